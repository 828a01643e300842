//! `agglomerative`: hierarchical clustering cut at k clusters. Uses
//! `kodama::linkage` on euclidean distances (scipy's convention, which is
//! scikit-learn's for ward as well). linfa-hierarchical is not used: it
//! clusters on a kernel of squared distances and does not match scikit-learn.

use anyhow::{bail, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{Clusterer, Fit, NClusters};
use crate::spec::KeyError;

/// Above this many points the condensed distance matrix (n²/2 f64) passes 4 GB.
const MAX_POINTS: usize = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Linkage {
    Ward,
    Complete,
    Average,
    Single,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgglomerativeParams {
    pub kind: String,
    /// Number of clusters: an integer of at least 2, "labels" for the number of
    /// true classes, or { auto = [lo, hi], by = "silhouette" } to choose it.
    #[serde(default = "d_k")]
    pub k: NClusters,
    /// Linkage criterion (euclidean distances).
    #[serde(default = "d_linkage")]
    pub linkage: Linkage,
}

fn d_k() -> NClusters {
    NClusters::Labels
}
fn d_linkage() -> Linkage {
    Linkage::Ward
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Clusterer>, KeyError> {
    Ok(Box::new(Agglomerative {
        p: crate::spec::typed_table(table, path)?,
    }))
}

pub struct Agglomerative {
    p: AgglomerativeParams,
}

impl Clusterer for Agglomerative {
    fn kind(&self) -> &'static str {
        "agglomerative"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn n_clusters(&self) -> Option<NClusters> {
        Some(self.p.k)
    }
    fn fit(&self, x: &Array2<f32>, k: Option<usize>, _seed: u64) -> Result<Fit> {
        let n = x.nrows();
        let k = super::given_k(k)?;
        if n > MAX_POINTS {
            bail!("agglomerative clustering of {n} points needs {} GB of distances; use kmeans or gmm", n * n / 2 * 8 / 1_000_000_000);
        }
        let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                let d: f64 = x
                    .row(i)
                    .iter()
                    .zip(x.row(j))
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum();
                condensed.push(d.sqrt());
            }
        }
        let method = match self.p.linkage {
            Linkage::Ward => kodama::Method::Ward,
            Linkage::Complete => kodama::Method::Complete,
            Linkage::Average => kodama::Method::Average,
            Linkage::Single => kodama::Method::Single,
        };
        let dendrogram = kodama::linkage(&mut condensed, n, method);
        Ok(Fit::labels(cut(
            dendrogram.steps().iter().map(|s| (s.cluster1, s.cluster2)),
            n,
            k,
        )))
    }
}

/// Applies the first n − k merges and labels the resulting clusters 0..k in
/// order of their first member.
pub fn cut(steps: impl Iterator<Item = (usize, usize)>, n: usize, k: usize) -> Vec<i64> {
    let mut parent: Vec<usize> = (0..2 * n).collect();
    for (i, (a, b)) in steps.take(n - k).enumerate() {
        parent[a] = n + i;
        parent[b] = n + i;
    }
    let root = |mut c: usize| {
        while parent[c] != c {
            c = parent[c];
        }
        c
    };
    let mut ids = std::collections::HashMap::new();
    (0..n)
        .map(|i| {
            let next = ids.len() as i64;
            *ids.entry(root(i)).or_insert(next)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_obvious_groups_with_every_linkage() {
        let x = Array2::from_shape_vec((6, 1), vec![0.0, 0.1, 0.2, 10.0, 10.1, 10.3]).unwrap();
        for linkage in ["ward", "complete", "average", "single"] {
            let t: toml::Table =
                format!("kind = \"agglomerative\"\nk = 2\nlinkage = \"{linkage}\"")
                    .parse()
                    .unwrap();
            let c = parse(&t, &[]).unwrap();
            assert_eq!(
                c.fit_predict(&x, None, 0).unwrap(),
                vec![0, 0, 0, 1, 1, 1],
                "{linkage}"
            );
        }
    }
}
