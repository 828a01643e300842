//! `kmeans`: Lloyd's algorithm with k-means++ initialisation and `n_init`
//! restarts (linfa-clustering), seeded.

use anyhow::{bail, Result};
use linfa::traits::{Fit, Predict};
use ndarray::Array2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{Clusterer, NClusters};
use crate::spec::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KMeansParams {
    pub kind: String,
    #[serde(default = "d_k")]
    pub k: NClusters,
    #[serde(default = "d_n_init")]
    pub n_init: usize,
    #[serde(default = "d_max_iter")]
    pub max_iter: u64,
    #[serde(default = "d_tol")]
    pub tol: f64,
}

fn d_k() -> NClusters {
    NClusters::Labels
}
fn d_n_init() -> usize {
    10
}
fn d_max_iter() -> u64 {
    300
}
fn d_tol() -> f64 {
    1e-4
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Clusterer>, KeyError> {
    let p: KMeansParams = crate::spec::typed(toml::Value::Table(table.clone()), path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    if p.n_init == 0 {
        return Err(KeyError::new(&at("n_init"), "must be at least 1"));
    }
    if p.max_iter == 0 {
        return Err(KeyError::new(&at("max_iter"), "must be at least 1"));
    }
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return Err(KeyError::new(&at("tol"), "must be a non-negative number"));
    }
    Ok(Box::new(KMeans { p }))
}

pub struct KMeans {
    p: KMeansParams,
}

impl Clusterer for KMeans {
    fn kind(&self) -> &'static str {
        "kmeans"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn fit_predict(
        &self,
        x: &Array2<f32>,
        n_classes: Option<usize>,
        seed: u64,
    ) -> Result<Vec<i64>> {
        let k = self.p.k.resolve(n_classes)?;
        if k > x.nrows() {
            bail!("k = {k} exceeds the number of tracks ({})", x.nrows());
        }
        let x = x.mapv(|v| v as f64);
        let ds = linfa::DatasetBase::from(x.clone());
        let rng = Xoshiro256Plus::seed_from_u64(seed);
        let model = linfa_clustering::KMeans::params_with_rng(k, rng)
            .n_runs(self.p.n_init)
            .max_n_iterations(self.p.max_iter)
            .tolerance(self.p.tol)
            .fit(&ds)?;
        let labels: ndarray::Array1<usize> = model.predict(&x);
        Ok(labels.iter().map(|&l| l as i64).collect())
    }
}
