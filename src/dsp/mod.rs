//! Audio features with librosa 0.11's definitions, and the feature-set
//! schema that turns one decoded track into the vector a model consumes.

pub mod mel;
pub mod mfcc;
pub mod stft;

use serde::{Deserialize, Serialize};

use crate::spec::{typed, KeyError};

/// What a feature set produces per track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Per-row statistics over frames, concatenated: one vector per track.
    Summary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureName {
    Mfcc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    Mean,
    Std,
    Min,
    Max,
}

/// The shape a feature set hands to representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureShape {
    Summary { dim: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSetSpec {
    #[serde(default = "d_kind")]
    pub kind: FeatureKind,
    #[serde(default = "d_features")]
    pub features: Vec<FeatureName>,
    #[serde(default = "d_n_mfcc")]
    pub n_mfcc: usize,
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    #[serde(default = "d_n_mels")]
    pub n_mels: usize,
    #[serde(default)]
    pub fmin: f64,
    /// Default: half the sample rate.
    #[serde(default)]
    pub fmax: Option<f64>,
    #[serde(default = "d_top_db")]
    pub top_db: Option<f64>,
    /// Cepstral lifter (0 = none), as librosa's `lifter`.
    #[serde(default)]
    pub lifter: f64,
    #[serde(default = "d_stats")]
    pub stats: Vec<Stat>,
    /// Scale every column to zero mean, unit variance over the dataset.
    #[serde(default = "d_true")]
    pub standardize: bool,
}

fn d_kind() -> FeatureKind {
    FeatureKind::Summary
}
fn d_features() -> Vec<FeatureName> {
    vec![FeatureName::Mfcc]
}
fn d_n_mfcc() -> usize {
    20
}
fn d_n_fft() -> usize {
    2048
}
fn d_hop() -> usize {
    512
}
fn d_n_mels() -> usize {
    128
}
fn d_top_db() -> Option<f64> {
    Some(80.0)
}
fn d_stats() -> Vec<Stat> {
    vec![Stat::Mean, Stat::Std]
}
fn d_true() -> bool {
    true
}

impl FeatureSetSpec {
    pub fn parse(table: &toml::Table, path: &[String]) -> Result<Self, KeyError> {
        let spec: FeatureSetSpec = typed(toml::Value::Table(table.clone()), path)?;
        let bad = |k: &str, m: &str| {
            Err(KeyError::new(
                &crate::spec::error::join_path(path, &[k.into()]),
                m,
            ))
        };
        if spec.features.is_empty() {
            return bad("features", "list at least one feature, e.g. [\"mfcc\"]");
        }
        if spec.stats.is_empty() {
            return bad(
                "stats",
                "list at least one statistic, e.g. [\"mean\", \"std\"]",
            );
        }
        if spec.n_fft < 16 || !spec.n_fft.is_power_of_two() && spec.n_fft % 2 != 0 {
            return bad("n_fft", "must be an even number of at least 16");
        }
        if spec.hop_length == 0 {
            return bad("hop_length", "must be positive");
        }
        if spec.n_mels == 0 {
            return bad("n_mels", "must be positive");
        }
        if spec.n_mfcc == 0 || spec.n_mfcc > spec.n_mels {
            return bad("n_mfcc", "must be between 1 and n_mels");
        }
        if spec.fmin < 0.0 || spec.fmax.is_some_and(|f| f <= spec.fmin) {
            return bad("fmax", "need 0 <= fmin < fmax");
        }
        Ok(spec)
    }

    pub fn rows(&self) -> usize {
        self.features
            .iter()
            .map(|f| match f {
                FeatureName::Mfcc => self.n_mfcc,
            })
            .sum()
    }

    pub fn shape(&self) -> FeatureShape {
        match self.kind {
            FeatureKind::Summary => FeatureShape::Summary {
                dim: self.rows() * self.stats.len(),
            },
        }
    }

    /// Names of the output columns, e.g. `mfcc3_mean`.
    pub fn column_names(&self) -> Vec<String> {
        let mut rows = Vec::new();
        for f in &self.features {
            match f {
                FeatureName::Mfcc => rows.extend((0..self.n_mfcc).map(|k| format!("mfcc{k}"))),
            }
        }
        let mut out = Vec::new();
        for s in &self.stats {
            let s = serde_json::to_value(s).unwrap();
            out.extend(rows.iter().map(|r| format!("{r}_{}", s.as_str().unwrap())));
        }
        out
    }
}

/// Computes a feature set for tracks at one sample rate; build once, reuse
/// for every track (filterbanks and FFT plans are precomputed).
pub struct Extractor {
    spec: FeatureSetSpec,
    stft: stft::Stft,
    mel: mel::MelBank,
    dct: Vec<Vec<f64>>,
}

impl Extractor {
    pub fn new(spec: &FeatureSetSpec, sample_rate: u32) -> Self {
        let sr = sample_rate as f64;
        Extractor {
            spec: spec.clone(),
            stft: stft::Stft::new(spec.n_fft, spec.hop_length),
            mel: mel::MelBank::new(
                sr,
                spec.n_fft,
                spec.n_mels,
                spec.fmin,
                spec.fmax.unwrap_or(sr / 2.0),
            ),
            dct: mfcc::dct2_ortho(spec.n_mels, spec.n_mfcc),
        }
    }

    /// The MFCC matrix (n_mfcc × frames, row-major) and its frame count.
    pub fn mfcc(&self, y: &[f32]) -> (Vec<f32>, usize) {
        let frames = self.stft.n_frames(y.len());
        let power = self.stft.power(y);
        let mel = self.mel.apply(&power, frames);
        let db = mfcc::power_to_db(&mel, 1e-10, self.spec.top_db);
        (
            mfcc::mfcc_from_db(&db, self.spec.n_mels, frames, &self.dct, self.spec.lifter),
            frames,
        )
    }

    /// All requested features stacked (rows × frames).
    pub fn matrix(&self, y: &[f32]) -> (Vec<f32>, usize, usize) {
        let mut rows = 0;
        let mut data = Vec::new();
        let mut frames = 0;
        for f in &self.spec.features {
            match f {
                FeatureName::Mfcc => {
                    let (m, t) = self.mfcc(y);
                    frames = t;
                    rows += self.spec.n_mfcc;
                    data.extend(m);
                }
            }
        }
        (data, rows, frames)
    }

    /// The per-track vector: for each statistic, that statistic of every row.
    pub fn summary(&self, y: &[f32]) -> Vec<f32> {
        let (data, rows, frames) = self.matrix(y);
        let mut out = Vec::with_capacity(rows * self.spec.stats.len());
        for stat in &self.spec.stats {
            for r in 0..rows {
                let row = &data[r * frames..(r + 1) * frames];
                out.push(row_stat(row, *stat) as f32);
            }
        }
        out
    }
}

/// Statistics over frames in f64; `std` is the population std (ddof = 0), as numpy.
pub fn row_stat(row: &[f32], stat: Stat) -> f64 {
    let n = row.len() as f64;
    match stat {
        Stat::Mean => row.iter().map(|&v| v as f64).sum::<f64>() / n,
        Stat::Std => {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
            (row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
        }
        Stat::Min => row.iter().copied().fold(f32::INFINITY, f32::min) as f64,
        Stat::Max => row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64,
    }
}
