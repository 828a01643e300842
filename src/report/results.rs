//! The results of a run: what `results.json` holds, and what `runner report`
//! renders from without recomputing anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cache::StageCounts;
use crate::models::EpochLoss;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub experiment: String,
    #[serde(default)]
    pub title: Option<String>,
    pub description: String,
    pub file: String,
    pub vaerun_version: String,
    pub git_commit: Option<String>,
    pub device: String,
    /// Seconds this run took (a cached rerun: a moment).
    pub wall_seconds: f64,
    /// What computing every artifact of this record cost, in the runs that
    /// computed them (each shared artifact counted once).
    #[serde(default)]
    pub compute_seconds: f64,
    pub dataset: DatasetInfo,
    pub cache: BTreeMap<String, StageCounts>,
    pub sort_by: String,
    pub cells: Vec<CellResult>,
    /// Training history per representation artifact (by its cache key).
    pub histories: BTreeMap<String, Vec<EpochLoss>>,
    /// 2-D projection of each representation's latent (by its cache key),
    /// one point per row of its feature set.
    #[serde(default)]
    pub projections: BTreeMap<String, Projected>,
    /// Problems that did not fail a cell (a figure that could not be made, ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A few tracks' inputs and reconstructions per representation
    /// artifact (by its cache key), for the reconstruction figures.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reconstructions: BTreeMap<String, super::recon::ReconShown>,
    /// How the report is laid out (the experiment's `[report]` choices that
    /// `runner report` needs without the experiment file).
    #[serde(default)]
    pub report: ReportOptions,
}

/// The `[report]` settings that shape a rendering of the record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportOptions {
    /// The clusterer whose clusters colour the latent maps (a clusterer name
    /// or label); None: the leaderboard's leading configuration's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_clusterer: Option<String>,
    /// Tracks listed (with players) per cluster.
    #[serde(default = "default_listen")]
    pub listen: usize,
    /// Cells listed besides the leading configuration's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen_cells: Vec<String>,
}

pub const DEFAULT_LISTEN: usize = 3;

pub fn default_listen() -> usize {
    DEFAULT_LISTEN
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            projection_clusterer: None,
            listen: DEFAULT_LISTEN,
            listen_cells: Vec::new(),
        }
    }
}

impl From<&crate::spec::ReportSection> for ReportOptions {
    fn from(r: &crate::spec::ReportSection) -> Self {
        ReportOptions {
            projection_clusterer: r.projection_clusterer.clone(),
            listen: r.listen,
            listen_cells: r.listen_cells.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Projected {
    pub method: String,
    pub points: Vec<[f32; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetInfo {
    pub description: String,
    /// The dataset's kind: `synthetic`, `folders`, `manifest` or `precomputed`.
    #[serde(default)]
    pub kind: String,
    pub tracks: usize,
    /// Track ids and true labels, in dataset order.
    #[serde(default)]
    pub track_ids: Vec<String>,
    #[serde(default)]
    pub track_labels: Vec<Option<String>>,
    /// The audio file of each track, in dataset order, as the run read it
    /// (the synthetic corpus's files live in the cache); empty when the
    /// dataset has no audio (precomputed features).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_paths: Vec<String>,
    /// For each feature set, the dataset indices of its rows (skipped tracks left out).
    #[serde(default)]
    pub rows: BTreeMap<String, Vec<usize>>,
    pub classes: Vec<ClassCount>,
    pub skipped: Vec<SkippedTrack>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassCount {
    pub name: String,
    pub tracks: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedTrack {
    pub track: String,
    pub feature_set: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellResult {
    pub cell: String,
    pub status: CellStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub feature_set: String,
    pub representation: String,
    pub representation_kind: String,
    pub group: String,
    pub clusterer: String,
    pub clusterer_kind: String,
    pub seed: u64,
    /// Every resolved parameter: `features.n_mfcc`, `repr.latent_dim`, `cluster.k`, ...
    pub params: BTreeMap<String, serde_json::Value>,
    pub tracks: usize,
    pub clusters: Option<usize>,
    pub noise_fraction: Option<f64>,
    /// Metric values; `null` when undefined (see `undefined`).
    pub metrics: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    pub undefined: BTreeMap<String, String>,
    /// Metrics on the points not labelled noise (−1), when there is noise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub noise_excluded: BTreeMap<String, Option<f64>>,
    /// External metrics against shuffled true labels (chance level).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub control: BTreeMap<String, Option<f64>>,
    /// Seconds each stage cost when it was computed (also when this run
    /// took it from the cache; see `cached`).
    pub timings: BTreeMap<String, f64>,
    pub cached: BTreeMap<String, bool>,
    pub final_loss: Option<EpochLoss>,
    pub keys: BTreeMap<String, String>,
    /// Cluster id per row of the feature set (−1 = noise).
    #[serde(default)]
    pub assignments: Vec<i64>,
    /// How the clusterer chose k, for `k = { auto = [lo, hi], by = … }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k_choice: Option<crate::cluster::KChoice>,
    /// For each cluster, the rows nearest its centre in the latent space,
    /// nearest first (indices into the feature set's rows, like
    /// `assignments`; noise has none). See [`crate::cluster::exemplars`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exemplars: BTreeMap<i64, Vec<usize>>,
    /// The condition column, when the representation was conditioned on
    /// the very labels the external metrics score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_leak: Option<String>,
    /// Mean squared error per value of the representation's reconstruction
    /// of every track, in the standardised feature space it was trained on
    /// (with audio and lyrics parts for feature sets with lyrics); None for
    /// `raw` and failed cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon_error: Option<crate::models::recon::ReconError>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    Ok,
    Failed,
}

impl RunRecord {
    pub fn failed(&self) -> impl Iterator<Item = &CellResult> {
        self.cells.iter().filter(|c| c.status == CellStatus::Failed)
    }
}
