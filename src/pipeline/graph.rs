//! The stage graph: every artifact an experiment needs, as one data
//! structure that `run`, `plan`, `plan --explain`, `submit` and `status` all
//! read. Its nodes are the artifacts (per-track features, the feature
//! matrix, represent, project, cluster, score); its edges are their inputs;
//! each node carries its key, its stage version and the parameters it reads.
//! Keys are derived here and nowhere else, so no two commands can disagree
//! about what is cached.
//!
//! Work is shared, never repeated: a node is identified by its key, so a
//! feature set used by many cells is one set of track nodes, and a
//! deterministic baseline (whose key leaves the seed out) is one represent
//! node — one *unit* of work — for every seed.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use super::dataset::ResolvedDataset;
use crate::cache::{Key, KeyBuilder, Store};
use crate::data::DatasetSpec;
use crate::dsp::FeatureSetSpec;
use crate::spec::{Cell, Experiment};
use crate::text::{embed, LyricsSpec};

/// Stage names: the cache's folder names and the results' timing keys.
pub const FEATURES: &str = "features";
pub const MATRIX: &str = "feature-matrix";
pub const REPRESENT: &str = "represent";
pub const PROJECT: &str = "project";
pub const CLUSTER: &str = "cluster";
pub const SCORE: &str = "score";
pub const LYRICS: &str = "lyrics";
pub const EMBEDDING: &str = "embedding";

/// Stage format versions. Bump one when its algorithm or artifact format
/// changes; models and clusterers carry their own (`version()`), added to
/// these.
/// features 3: per-track failures are cached artifacts (`error.txt`).
pub const FEATURES_VERSION: u32 = 3;
pub const MATRIX_VERSION: u32 = 2;
pub const REPRESENT_VERSION: u32 = 2;
pub const PROJECT_VERSION: u32 = 2;
/// cluster 3: the artifact keeps how k was chosen (`k_choice.json`).
pub const CLUSTER_VERSION: u32 = 3;
pub const SCORE_VERSION: u32 = 3;
pub const LYRICS_VERSION: u32 = 1;
pub const EMBEDDING_VERSION: u32 = 1;

pub type NodeId = usize;

/// One input of a node: another node, or content from outside the graph
/// (an audio file's hash, an embedding model folder's hash).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub name: &'static str,
    pub key: Key,
    pub node: Option<NodeId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub stage: &'static str,
    pub version: u32,
    pub key: Key,
    /// The parameters that enter the key, by name.
    pub params: BTreeMap<&'static str, Value>,
    pub inputs: Vec<Edge>,
    /// Whether the artifact lives in the cache (the feature matrix is
    /// assembled in memory from its tracks).
    pub stored: bool,
}

/// Collects a node's parts, then derives its key from exactly those parts.
struct Recipe {
    stage: &'static str,
    version: u32,
    params: BTreeMap<&'static str, Value>,
    inputs: Vec<Edge>,
    stored: bool,
}

impl Recipe {
    fn new(stage: &'static str, version: u32) -> Recipe {
        Recipe {
            stage,
            version,
            params: BTreeMap::new(),
            inputs: Vec::new(),
            stored: true,
        }
    }

    fn param(mut self, name: &'static str, value: Value) -> Recipe {
        self.params.insert(name, value);
        self
    }

    fn input(mut self, name: &'static str, key: Key, node: Option<NodeId>) -> Recipe {
        self.inputs.push(Edge { name, key, node });
        self
    }

    fn in_memory(mut self) -> Recipe {
        self.stored = false;
        self
    }

    fn key(&self) -> Key {
        let mut b = KeyBuilder::new(self.stage, self.version);
        for (name, value) in &self.params {
            b = b.params(name, value);
        }
        for e in &self.inputs {
            b = b.input(e.name, &e.key);
        }
        b.finish()
    }

    fn node(self) -> Node {
        Node {
            key: self.key(),
            stage: self.stage,
            version: self.version,
            params: self.params,
            inputs: self.inputs,
            stored: self.stored,
        }
    }
}

/// What the cache says about one track's features.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackState {
    /// Not extracted yet (assumed usable, as on a first run).
    Unknown,
    Usable,
    /// Extracted once and found unusable; the reason is cached, so the file
    /// is not decoded again.
    Failed(String),
}

/// The nodes of one feature set.
#[derive(Debug, Clone)]
pub struct FeatureSetNodes {
    pub label: String,
    /// One per dataset track (empty for lyrics-only sets and precomputed
    /// datasets, which extract nothing).
    pub tracks: Vec<NodeId>,
    pub states: Vec<TrackState>,
    /// Dataset indices of the matrix rows: the tracks not known to fail.
    pub rows: Vec<usize>,
    pub lyrics: Option<Key>,
    pub matrix: NodeId,
}

/// A unit of work: one represent artifact (feature set × representation ×
/// seed, or × every seed for a deterministic baseline), its projection, and
/// the cells that cluster it. One SLURM array task runs one unit.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub feature_set: usize,
    pub represent: NodeId,
    pub project: NodeId,
    /// Indices into [`StageGraph::cells`].
    pub cells: Vec<usize>,
}

/// The nodes of one cell.
#[derive(Debug, Clone)]
pub struct CellKeys {
    /// Index into the experiment's cells.
    pub cell: usize,
    pub feature_set: usize,
    pub unit: usize,
    pub represent: NodeId,
    pub project: NodeId,
    pub cluster: NodeId,
    pub score: NodeId,
}

#[derive(Debug, Clone)]
pub struct StageGraph {
    pub nodes: Vec<Node>,
    pub feature_sets: Vec<FeatureSetNodes>,
    pub units: Vec<Unit>,
    pub cells: Vec<CellKeys>,
    /// Each representation's condition values for every dataset track.
    pub conditions: HashMap<String, Option<Vec<String>>>,
    /// Number of true classes, when the dataset is labelled.
    pub n_classes: Option<usize>,
}

/// The id of the unit a cell belongs to: what `runner run --unit` takes.
pub fn unit_id(cell: &Cell) -> String {
    if cell.repr.repr.uses_seed() {
        format!(
            "{}/{}/seed={}",
            cell.features.label, cell.repr.label, cell.seed
        )
    } else {
        format!("{}/{}", cell.features.label, cell.repr.label)
    }
}

/// Parameters of the per-track extraction: everything but dataset-level
/// standardisation and the lyrics block, which do not change a track's own
/// audio vector.
fn extraction_params(spec: &FeatureSetSpec) -> Value {
    let mut v = serde_json::to_value(spec).expect("feature spec serialises");
    let o = v.as_object_mut().expect("feature spec is an object");
    o.remove("standardize");
    o.remove("lyrics");
    o.remove("pool");
    v
}

fn track_recipe(dataset: &DatasetSpec, input: &Key, spec: &FeatureSetSpec) -> Recipe {
    Recipe::new(FEATURES, FEATURES_VERSION)
        .param(
            "decode",
            serde_json::to_value(dataset.decode_params()).expect("decode params serialise"),
        )
        .param("min_duration", json!(dataset.min_duration()))
        .param("pad_short_clips", json!(dataset.pad_short_clips()))
        .param("features", extraction_params(spec))
        .input("audio", *input, None)
}

/// Per-track feature keys of a feature set (empty when it has no audio
/// features); what the features stage computes before the graph exists.
pub fn track_keys(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
) -> Vec<Key> {
    if spec.features.is_empty() || data.precomputed.is_some() {
        return Vec::new();
    }
    data.input_keys
        .iter()
        .map(|k| track_recipe(dataset, k, spec).key())
        .collect()
}

/// The content key of the embedding model folder, when the lyrics block
/// uses one (hashing the folder reads every file: done once per graph).
pub fn model_key(spec: &FeatureSetSpec) -> Result<Option<Key>> {
    match &spec.lyrics {
        Some(LyricsSpec::Embedding(e)) => Ok(Some(embed::folder_key(&e.model)?)),
        _ => Ok(None),
    }
}

/// The lyrics block's key: its parameters, every track's id and text, and
/// for embeddings the model's content key.
pub fn lyrics_key(
    spec: &FeatureSetSpec,
    data: &ResolvedDataset,
    model: Option<&Key>,
) -> Option<Key> {
    let l = spec.lyrics.as_ref()?;
    let texts: Vec<(&str, Option<&str>)> = data
        .tracks
        .iter()
        .map(|t| (t.id.as_str(), t.lyrics.as_deref()))
        .collect();
    let mut b = KeyBuilder::new(LYRICS, LYRICS_VERSION)
        .params(
            "lyrics",
            &serde_json::to_value(l).expect("lyrics spec serialises"),
        )
        .params("texts", &json!(texts));
    if let Some(m) = model {
        b = b.input("model", m);
    }
    Some(b.finish())
}

/// One text's embedding key (cached per text, so a changed lyric re-embeds
/// only itself).
pub fn embedding_key(model: &Key, max_length: usize, text: &str) -> Key {
    KeyBuilder::new(EMBEDDING, EMBEDDING_VERSION)
        .input("model", model)
        .params("max_length", &json!(max_length))
        .bytes("text", text.as_bytes())
        .finish()
}

/// What the cache knows of a track's features (see [`TrackState`]).
pub fn track_state(store: &Store, key: &Key) -> TrackState {
    if !store.contains(FEATURES, key) {
        return TrackState::Unknown;
    }
    match std::fs::read_to_string(store.path(FEATURES, key).join(super::features::ERROR_FILE)) {
        Ok(reason) => TrackState::Failed(reason),
        Err(_) => TrackState::Usable,
    }
}

/// The hash of a labelling, for keys (a long vector is a long parameter).
fn labelling_digest(values: &[usize]) -> String {
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|v| (*v as u64).to_le_bytes())
        .collect();
    blake3::hash(&bytes).to_hex().to_string()
}

impl StageGraph {
    /// The graph of the given cells (indices into `exp.cells`). Track
    /// states come from `store`, so the matrix keys leave out tracks that
    /// are known to fail; on a first run every track is assumed usable, and
    /// the run rebuilds the graph once the features are extracted.
    pub fn build(
        exp: &Experiment,
        data: &ResolvedDataset,
        store: &Store,
        device: &str,
        cells: &[usize],
    ) -> Result<StageGraph> {
        let mut g = StageGraph {
            nodes: Vec::new(),
            feature_sets: Vec::new(),
            units: Vec::new(),
            cells: Vec::new(),
            conditions: HashMap::new(),
            n_classes: data.label_index().map(|_| data.classes.len()),
        };
        let mut by_key: HashMap<Key, NodeId> = HashMap::new();
        let mut add = |g: &mut StageGraph, r: Recipe| -> NodeId {
            let node = r.node();
            *by_key.entry(node.key).or_insert_with(|| {
                g.nodes.push(node);
                g.nodes.len() - 1
            })
        };
        let truth_all = data.label_index();

        for &ci in cells {
            let cell = &exp.cells[ci];
            // Feature set.
            let fs = match g
                .feature_sets
                .iter()
                .position(|f| f.label == cell.features.label)
            {
                Some(i) => i,
                None => {
                    let spec = &cell.features.spec;
                    let keys = track_keys(&exp.dataset, data, spec);
                    let mut tracks = Vec::with_capacity(keys.len());
                    let mut states = Vec::with_capacity(keys.len());
                    for (t, k) in keys.iter().enumerate() {
                        tracks.push(add(
                            &mut g,
                            track_recipe(&exp.dataset, &data.input_keys[t], spec),
                        ));
                        states.push(track_state(store, k));
                    }
                    let rows: Vec<usize> = if states.is_empty() {
                        (0..data.tracks.len()).collect()
                    } else {
                        (0..states.len())
                            .filter(|&t| !matches!(states[t], TrackState::Failed(_)))
                            .collect()
                    };
                    let model = model_key(spec)?;
                    let lyrics = lyrics_key(spec, data, model.as_ref());
                    let mut m = Recipe::new(MATRIX, MATRIX_VERSION)
                        .in_memory()
                        .param("standardize", json!(spec.standardize))
                        .param("pool", json!(spec.pooling()));
                    if tracks.is_empty() {
                        // Precomputed rows, or lyrics only: the dataset's
                        // own input keys stand for the rows.
                        for &t in &rows {
                            m = m.input("track", data.input_keys[t], None);
                        }
                    } else {
                        for &t in &rows {
                            m = m.input("track", keys[t], Some(tracks[t]));
                        }
                    }
                    if let Some(l) = lyrics {
                        m = m.input("lyrics", l, None);
                    }
                    let matrix = add(&mut g, m);
                    g.feature_sets.push(FeatureSetNodes {
                        label: cell.features.label.clone(),
                        tracks,
                        states,
                        rows,
                        lyrics,
                        matrix,
                    });
                    g.feature_sets.len() - 1
                }
            };
            let matrix = g.feature_sets[fs].matrix;
            let matrix_key = g.nodes[matrix].key;

            // Represent and its projection (one unit).
            let r = &cell.repr.repr;
            if !g.conditions.contains_key(&cell.repr.label) {
                g.conditions
                    .insert(cell.repr.label.clone(), condition_values(cell, data)?);
            }
            let mut rr = Recipe::new(REPRESENT, REPRESENT_VERSION + r.version())
                .param("kind", json!(r.kind()))
                .param("params", r.params())
                .input("features", matrix_key, Some(matrix));
            if r.uses_seed() {
                // Trained models: CPU and GPU results differ in the last bits.
                rr = rr
                    .param("seed", json!(cell.seed))
                    .param("device", json!(device));
            }
            if let Some(values) = &g.conditions[&cell.repr.label] {
                rr = rr.param("condition", json!(values));
            }
            let represent = add(&mut g, rr);
            let rk = g.nodes[represent].key;
            let project = add(
                &mut g,
                Recipe::new(PROJECT, PROJECT_VERSION)
                    .param("projection", serde_json::to_value(exp.report.projection)?)
                    .input("latent", rk, Some(represent)),
            );
            let unit = match g.units.iter().position(|u| u.represent == represent) {
                Some(u) => u,
                None => {
                    g.units.push(Unit {
                        id: unit_id(cell),
                        feature_set: fs,
                        represent,
                        project,
                        cells: Vec::new(),
                    });
                    g.units.len() - 1
                }
            };

            // Cluster and score.
            let c = &cell.clusterer.clusterer;
            let n_classes = g.n_classes;
            let cluster = add(
                &mut g,
                Recipe::new(CLUSTER, CLUSTER_VERSION + c.version())
                    .param("kind", json!(c.kind()))
                    .param("params", c.params())
                    .param("seed", json!(cell.seed))
                    .param("n_classes", json!(n_classes))
                    .input("latent", rk, Some(represent)),
            );
            let ck = g.nodes[cluster].key;
            let truth: Option<Vec<usize>> = truth_all
                .as_ref()
                .map(|t| g.feature_sets[fs].rows.iter().map(|&i| t[i]).collect());
            let score = add(
                &mut g,
                Recipe::new(SCORE, SCORE_VERSION)
                    .param("metrics", json!(exp.metrics.include))
                    .param("truth", json!(truth.as_deref().map(labelling_digest)))
                    .input("cluster", ck, Some(cluster))
                    .input("latent", rk, Some(represent)),
            );
            g.units[unit].cells.push(g.cells.len());
            g.cells.push(CellKeys {
                cell: ci,
                feature_set: fs,
                unit,
                represent,
                project,
                cluster,
                score,
            });
        }
        Ok(g)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn key(&self, id: NodeId) -> Key {
        self.nodes[id].key
    }

    /// Whether a stored node's artifact is in the cache (size-checked).
    pub fn cached(&self, store: &Store, id: NodeId) -> bool {
        let n = &self.nodes[id];
        n.stored && store.contains(n.stage, &n.key)
    }

    /// How many of a feature set's tracks are in the cache (usable or
    /// failed), out of how many.
    pub fn tracks_cached(&self, fs: usize) -> (usize, usize) {
        let f = &self.feature_sets[fs];
        let done = f
            .states
            .iter()
            .filter(|s| !matches!(s, TrackState::Unknown))
            .count();
        (done, f.states.len())
    }

    /// Whether everything a unit produces is cached: its represent and
    /// project artifacts and every cell's cluster and score.
    pub fn unit_cached(&self, store: &Store, u: usize) -> bool {
        let unit = &self.units[u];
        self.cached(store, unit.represent)
            && self.cached(store, unit.project)
            && unit.cells.iter().all(|&c| {
                self.cached(store, self.cells[c].cluster) && self.cached(store, self.cells[c].score)
            })
    }

    /// The stage keys of a cell by stage name, as the results record them.
    pub fn cell_keys(&self, c: usize) -> BTreeMap<String, String> {
        let k = &self.cells[c];
        let fs = &self.feature_sets[k.feature_set];
        [
            (FEATURES, fs.matrix),
            (REPRESENT, k.represent),
            (CLUSTER, k.cluster),
            (SCORE, k.score),
        ]
        .into_iter()
        .map(|(s, id)| (s.to_string(), self.key(id).hex()))
        .collect()
    }
}

/// The values of the representation's condition column for every track of
/// the dataset (None when it asks for none).
fn condition_values(cell: &Cell, data: &ResolvedDataset) -> Result<Option<Vec<String>>> {
    let Some(name) = cell.repr.repr.condition() else {
        return Ok(None);
    };
    data.tracks
        .iter()
        .map(|t| {
            t.column(name).ok_or_else(|| {
                let mut have = vec!["label".to_string(), "language".to_string()];
                have.extend(t.meta.keys().cloned());
                anyhow!(
                    "{}: condition = \"{name}\" names no column of track {} (it has: {})",
                    cell.repr.label,
                    t.id,
                    have.join(", ")
                )
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
