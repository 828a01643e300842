//! Representations: the VAE family and the baselines. Each kind is one file
//! implementing [`Representer`] plus one line in [`REGISTRY`].

pub mod device;
pub mod init;
pub mod pca;
pub mod raw;
pub mod train;
pub mod vae;

use std::path::Path;

use anyhow::Result;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::dsp::FeatureShape;
use crate::spec::{Group, KeyError};

/// One epoch of training history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochLoss {
    pub epoch: usize,
    pub reconstruction: f64,
    pub kl: f64,
    pub total: f64,
}

pub struct FitInput<'a> {
    /// Rows are tracks.
    pub x: &'a Array2<f32>,
    pub seed: u64,
    pub device: &'a candle_core::Device,
}

pub struct Fitted {
    pub latent: Array2<f32>,
    pub history: Vec<EpochLoss>,
}

pub trait Representer: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Canonical resolved parameters (defaults filled in): part of the cache
    /// key and of the results table.
    fn params(&self) -> serde_json::Value;
    /// Bumped when the algorithm or artifact format changes.
    fn version(&self) -> u32 {
        1
    }
    /// Deterministic methods give the same output for every seed; their
    /// cache key leaves the seed out, so they are computed once.
    fn uses_seed(&self) -> bool;
    fn accepts(&self, shape: FeatureShape) -> bool;
    /// Fits on `input.x` and returns the latent matrix; may write a
    /// checkpoint into `out_dir` (the artifact folder being built).
    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted>;
}

type ParseFn = fn(&toml::Table, &[String]) -> Result<Box<dyn Representer>, KeyError>;

/// kind, where it may be declared, parser.
pub const REGISTRY: &[(&str, Group, ParseFn)] = &[
    ("vae", Group::Model, vae::parse),
    ("raw", Group::Baseline, raw::parse),
    ("pca", Group::Baseline, pca::parse),
];

pub fn parse(
    group: Group,
    table: &toml::Table,
    path: &[String],
) -> Result<Box<dyn Representer>, KeyError> {
    let kinds: Vec<&str> = REGISTRY.iter().map(|(k, _, _)| *k).collect();
    let kind = crate::spec::kind_of(table, path, &kinds)?;
    let (_, home, parse) = REGISTRY
        .iter()
        .find(|(k, _, _)| *k == kind)
        .expect("kind_of checked the kind");
    if *home != group {
        let section = if *home == Group::Model {
            "models"
        } else {
            "baselines"
        };
        return Err(KeyError::new(
            &crate::spec::error::join_path(path, &["kind".into()]),
            format!("`{kind}` belongs under [{section}]"),
        ));
    }
    parse(table, path)
}
