//! `dbscan`: density-based clustering (linfa-clustering, k-d tree
//! neighbours). `min_samples` counts the point itself, as scikit-learn's;
//! noise points get label −1.

use anyhow::Result;
use linfa::traits::Transformer;
use linfa::ParamGuard;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{Clusterer, Fit};
use crate::spec::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbscanParams {
    pub kind: String,
    /// Neighbourhood radius (euclidean).
    #[serde(default = "d_eps")]
    pub eps: f64,
    /// Neighbours (counting the point itself) that make a core point.
    #[serde(default = "d_min_samples")]
    pub min_samples: usize,
}

fn d_eps() -> f64 {
    0.5
}
fn d_min_samples() -> usize {
    5
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Clusterer>, KeyError> {
    let p: DbscanParams = crate::spec::typed_table(table, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    if !(p.eps > 0.0 && p.eps.is_finite()) {
        return Err(KeyError::new(&at("eps"), "must be a positive number"));
    }
    if p.min_samples < 2 {
        return Err(KeyError::new(
            &at("min_samples"),
            "must be at least 2 (it counts the point itself)",
        ));
    }
    Ok(Box::new(Dbscan { p }))
}

pub struct Dbscan {
    p: DbscanParams,
}

impl Clusterer for Dbscan {
    fn kind(&self) -> &'static str {
        "dbscan"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn fit(&self, x: &Array2<f32>, _k: Option<usize>, _seed: u64) -> Result<Fit> {
        let x = x.mapv(|v| v as f64);
        let labels = linfa_clustering::Dbscan::params(self.p.min_samples)
            .tolerance(self.p.eps)
            .check()?
            .transform(&x);
        Ok(Fit::labels(
            labels.iter().map(|l| l.map_or(-1, |c| c as i64)).collect(),
        ))
    }
}
