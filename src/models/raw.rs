//! `raw` baseline: the (standardised) features themselves.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    pub kind: String,
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    crate::spec::schema::object::<RawParams>(gen)
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    Ok(Box::new(Raw {
        p: crate::spec::typed_table(table, path)?,
    }))
}

pub struct Raw {
    p: RawParams,
}

impl Representer for Raw {
    fn kind(&self) -> &'static str {
        "raw"
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
        Ok(Fitted {
            latent: input.x.clone(),
            history: Vec::new(),
            // The identity reconstructs exactly: nothing to show or compare.
            recon: None,
        })
    }
}
