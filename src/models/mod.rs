//! Representations: the VAE family and the baselines. Each kind is one file
//! implementing [`Representer`] plus one line in [`REGISTRY`].

pub mod autoencoder;
pub mod beta_vae;
pub mod conv_ops;
pub mod conv_vae;
pub mod cvae;
pub mod device;
pub mod generate;
pub mod hybrid_vae;
pub mod init;
pub mod layers;
pub mod linear;
pub mod loss;
pub mod optim;
pub mod pca;
pub mod raw;
pub mod recon;
pub mod train;
pub mod vae;

mod cpu_gemm;
mod host;
#[cfg(test)]
mod tests;

pub use host::candle_elementwise_on_caller;

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
    /// Total loss on the held-out rows, when a validation split is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<f64>,
}

/// How the columns of a feature matrix are organised: the audio block
/// first (a summary vector, or a sequence stored row-major), then the lyrics
/// block when the feature set has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub audio: Option<FeatureShape>,
    pub text: Option<TextBlock>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextBlock {
    pub dim: usize,
    /// Per row: whether the track has lyrics. Rows without are all zeros in
    /// the matrix; models that read lyrics mask them out instead.
    pub present: Vec<bool>,
}

impl Layout {
    /// Audio features only.
    pub fn audio(shape: FeatureShape) -> Layout {
        Layout {
            audio: Some(shape),
            text: None,
        }
    }

    /// Audio summaries of `dim` columns.
    pub fn summary(dim: usize) -> Layout {
        Layout::audio(FeatureShape::Summary { dim })
    }

    pub fn audio_dim(&self) -> usize {
        self.audio.map_or(0, |s| s.dim())
    }

    pub fn text_dim(&self) -> usize {
        self.text.as_ref().map_or(0, |t| t.dim)
    }
}

/// A categorical column for conditional models: each row's level index.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub levels: Vec<String>,
    pub index: Vec<usize>,
}

impl Condition {
    /// Builds the level list (sorted) and indices from per-row values.
    pub fn from_values(column: &str, values: &[String]) -> Condition {
        let mut levels: Vec<String> = values.to_vec();
        levels.sort();
        levels.dedup();
        let index = values
            .iter()
            .map(|v| levels.binary_search(v).expect("level listed"))
            .collect();
        Condition {
            column: column.to_string(),
            levels,
            index,
        }
    }

    /// The rows' one-hot codes (n × levels).
    pub fn one_hot(
        &self,
        device: &candle_core::Device,
    ) -> candle_core::Result<candle_core::Tensor> {
        let k = self.levels.len();
        let mut v = vec![0f32; self.index.len() * k];
        for (r, &i) in self.index.iter().enumerate() {
            v[r * k + i] = 1.0;
        }
        candle_core::Tensor::from_vec(v, (self.index.len(), k), device)
    }
}

/// Watches a training: told after every epoch (progress display).
pub trait TrainObserver: Sync {
    fn epoch(&self, done: &EpochLoss, epochs: usize);
}

pub struct FitInput<'a> {
    /// Rows are tracks.
    pub x: &'a Array2<f32>,
    pub layout: &'a Layout,
    /// Present when the model asked for one ([`Representer::condition`]).
    pub condition: Option<&'a Condition>,
    pub seed: u64,
    pub device: &'a candle_core::Device,
    pub observer: Option<&'a dyn TrainObserver>,
}

#[derive(Debug)]
pub struct Fitted {
    pub latent: Array2<f32>,
    pub history: Vec<EpochLoss>,
    /// The inputs decoded back from the latent (None where there is no
    /// decoder to speak of: `raw`). See [`recon`].
    pub recon: Option<recon::Reconstruction>,
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
    /// Whether the model can take a feature set of this audio shape (None:
    /// no audio features), with or without a lyrics block. It must depend
    /// only on the kind and on the shape's form (summary or sequence), not on
    /// other parameters: a grid is sized from one variant per section.
    fn accepts(&self, audio: Option<FeatureShape>, has_text: bool) -> bool;
    /// What [`Representer::accepts`] asks for, in words, for the error when
    /// a feature set chosen by name does not fit.
    fn needs(&self) -> &'static str {
        "choose another feature set"
    }
    /// The categorical column a conditional model is conditioned on.
    fn condition(&self) -> Option<&str> {
        None
    }
    /// Fits on `input.x` and returns the latent matrix; may write a
    /// checkpoint into `out_dir` (the artifact folder being built).
    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted>;
    /// The decoder of a trained model with a prior to sample from, loaded
    /// from the checkpoint that [`Representer::fit`] wrote into `dir`
    /// (None for models without a prior: the baselines).
    fn load_generator(
        &self,
        _dir: &Path,
        _device: &candle_core::Device,
    ) -> Result<Option<Box<dyn generate::Generator>>> {
        Ok(None)
    }
}

type ParseFn = fn(&toml::Table, &[String]) -> Result<Box<dyn Representer>, KeyError>;
/// The JSON Schema of the keys a kind takes (see [`crate::spec::schema`]).
type SchemaFn = fn(&mut schemars::SchemaGenerator) -> serde_json::Value;

/// kind, where it may be declared, parser, schema of its keys.
pub const REGISTRY: &[(&str, Group, ParseFn, SchemaFn)] = &[
    ("vae", Group::Model, vae::parse, vae::schema),
    ("beta_vae", Group::Model, beta_vae::parse, beta_vae::schema),
    ("cvae", Group::Model, cvae::parse, cvae::schema),
    ("conv_vae", Group::Model, conv_vae::parse, conv_vae::schema),
    (
        "hybrid_vae",
        Group::Model,
        hybrid_vae::parse,
        hybrid_vae::schema,
    ),
    (
        "autoencoder",
        Group::Baseline,
        autoencoder::parse,
        autoencoder::schema,
    ),
    ("raw", Group::Baseline, raw::parse, raw::schema),
    ("pca", Group::Baseline, pca::parse, pca::schema),
];

pub fn parse(
    group: Group,
    table: &toml::Table,
    path: &[String],
) -> Result<Box<dyn Representer>, KeyError> {
    let kinds: Vec<&str> = REGISTRY.iter().map(|(k, _, _, _)| *k).collect();
    let kind = crate::spec::kind_of(table, path, &kinds)?;
    let (_, home, parse, _) = REGISTRY
        .iter()
        .find(|(k, _, _, _)| *k == kind)
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
    // Unknown keys are named here, against the keys this kind takes: the
    // kind's own parser sees only its own struct's keys, without the
    // training keys it shares with the others.
    crate::spec::schema::check_representation_keys(table, path, kind)?;
    parse(table, path)
}
