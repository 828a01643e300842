//! `pca` baseline: projection on the leading principal components (linfa-reduction).

use std::path::Path;

use anyhow::{bail, Result};
use linfa::traits::{Fit, Predict};
use serde::{Deserialize, Serialize};

use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PcaParams {
    pub kind: String,
    /// Principal components kept.
    #[serde(default = "d_components")]
    pub n_components: usize,
    /// Scale components to unit variance.
    #[serde(default)]
    pub whiten: bool,
}

fn d_components() -> usize {
    16
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    crate::spec::schema::object::<PcaParams>(gen)
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    let p: PcaParams = crate::spec::typed_table(table, path)?;
    if p.n_components == 0 {
        return Err(KeyError::new(
            &crate::spec::error::join_path(path, &["n_components".into()]),
            "must be at least 1",
        ));
    }
    Ok(Box::new(Pca { p }))
}

pub struct Pca {
    p: PcaParams,
}

impl Representer for Pca {
    fn kind(&self) -> &'static str {
        "pca"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn uses_seed(&self) -> bool {
        false
    }
    fn accepts(&self, _audio: Option<FeatureShape>, _has_text: bool) -> bool {
        // Summaries as they are, sequences flattened row by row.
        true
    }
    fn fit(&self, input: &FitInput, _out_dir: &Path) -> Result<Fitted> {
        let (n, d) = input.x.dim();
        let k = self.p.n_components;
        if k > n.min(d) {
            bail!(
                "n_components = {k} exceeds min(tracks, features) = {}",
                n.min(d)
            );
        }
        let x = input.x.mapv(|v| v as f64);
        let ds = linfa::DatasetBase::from(x.clone());
        let model = linfa_reduction::Pca::params(k)
            .whiten(self.p.whiten)
            .fit(&ds)?;
        let z: ndarray::Array2<f64> = model.predict(&x);
        Ok(Fitted {
            latent: z.mapv(|v| v as f32),
            history: Vec::new(),
        })
    }
}
