//! Plans and executes the cells of an experiment. The only module that knows
//! the order of the stages: dataset → features → represent → cluster → score.
//!
//! Work is shared, never repeated: a feature set is extracted once for all
//! cells that use it, a representation is fitted once per (feature set,
//! seed) however many clusterers consume it, and deterministic baselines
//! once for every seed. A stage that fails fails only the cells downstream of
//! it; the others still run.

pub mod dataset;
pub mod features;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::Array2;
use rayon::prelude::*;

use crate::cache::{Key, KeyBuilder, Store};
use crate::cluster::metrics;
use crate::cluster::project::Projection;
use crate::models::{device, EpochLoss, FitInput};
use crate::report::results::{
    CellResult, CellStatus, ClassCount, DatasetInfo, Projected, RunRecord, SkippedTrack,
};
use crate::spec::{Cell, Experiment};
use dataset::ResolvedDataset;
use features::FeatureMatrix;

pub const REPRESENT: &str = "represent";
pub const CLUSTER: &str = "cluster";
pub const SCORE: &str = "score";

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub quiet: bool,
    /// Run only this cell (the seam for job arrays); its result is printed,
    /// no report is written.
    pub cell: Option<String>,
}

/// Keys of every stage of one cell, computable before anything runs.
#[derive(Debug, Clone)]
pub struct CellKeys {
    pub features: Key,
    pub represent: Key,
    pub cluster: Key,
    pub score: Key,
}

fn seed_part(uses_seed: bool, seed: u64) -> Vec<u8> {
    if uses_seed {
        seed.to_le_bytes().to_vec()
    } else {
        b"seed-independent".to_vec()
    }
}

pub fn represent_key(
    cell: &Cell,
    features: &Key,
    device: &str,
    condition: Option<&[String]>,
) -> Key {
    let r = &cell.repr.repr;
    let mut b = KeyBuilder::new(REPRESENT, r.version())
        .params("kind", &serde_json::json!(r.kind()))
        .params("params", &r.params())
        .input("features", features)
        .bytes("seed", &seed_part(r.uses_seed(), cell.seed));
    if let Some(values) = condition {
        b = b.params("condition", &serde_json::json!(values));
    }
    if r.uses_seed() {
        // Trained models: CPU and GPU results differ in the last bits.
        b = b.bytes("device", device.as_bytes());
    }
    b.finish()
}

pub fn cluster_key(cell: &Cell, represent: &Key, n_classes: Option<usize>) -> Key {
    let c = &cell.clusterer.clusterer;
    KeyBuilder::new(CLUSTER, c.version())
        .params("kind", &serde_json::json!(c.kind()))
        .params("params", &c.params())
        .input("latent", represent)
        .bytes("seed", &cell.seed.to_le_bytes())
        .params("n_classes", &serde_json::json!(n_classes))
        .finish()
}

pub fn score_key(names: &[String], cluster: &Key, represent: &Key, truth: Option<&[usize]>) -> Key {
    let truth_bytes: Vec<u8> = truth
        .map(|t| t.iter().flat_map(|v| (*v as u64).to_le_bytes()).collect())
        .unwrap_or_default();
    KeyBuilder::new(SCORE, 2)
        .params("metrics", &serde_json::json!(names))
        .input("cluster", cluster)
        .input("latent", represent)
        .bytes("truth", &truth_bytes)
        .finish()
}

fn bar(len: usize, msg: &'static str, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let pb = ProgressBar::with_draw_target(Some(len as u64), target);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

/// One line per cell of `plan`: which stages are cached.
pub struct PlannedCell {
    pub id: String,
    pub features_cached: (usize, usize),
    pub represent: bool,
    pub cluster: bool,
    pub score: bool,
    /// The keys this cell's stages will have (stage name → hex).
    pub keys: BTreeMap<String, String>,
    /// Its resolved parameters, as in the results table.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// Computes every key and checks the cache, without running anything.
pub fn plan(exp: &Experiment) -> Result<Vec<PlannedCell>> {
    let store = Store::open(exp.cache_dir())?;
    let data = dataset::resolve(&exp.dataset, &store)?;
    let truth = data.label_index();
    let n_classes = truth.as_ref().map(|_| data.classes.len());
    let (_, device_name) =
        device::open(device::parse_device(&exp.experiment.device).map_err(|e| anyhow!(e))?)?;
    let mut fm_keys: HashMap<String, (Key, (usize, usize))> = HashMap::new();
    for fv in &exp.feature_sets {
        let keys = features::track_keys(&exp.dataset, &data, &fv.spec);
        let cached = if matches!(exp.dataset, crate::data::DatasetSpec::Precomputed(_)) {
            keys.len() // read from the file, nothing to extract
        } else {
            keys.iter()
                .filter(|k| store.contains(features::STAGE, k))
                .count()
        };
        // Skipped tracks are only known after extraction; the matrix key
        // assumes every track is usable, as on a first run.
        fm_keys.insert(
            fv.label.clone(),
            (
                features::matrix_key(
                    &keys,
                    &fv.spec,
                    features::lyrics_key(&fv.spec, &data, features::model_key(&fv.spec)?.as_ref())?
                        .as_ref(),
                ),
                (cached, keys.len()),
            ),
        );
    }
    let conditions = conditions(exp.cells.iter(), &data)?;
    Ok(exp
        .cells
        .iter()
        .map(|cell| {
            let (fk, fc) = fm_keys[&cell.features.label];
            let cond = conditions[&cell.repr.label].as_deref();
            let rk = represent_key(cell, &fk, &device_name, cond);
            let ck = cluster_key(cell, &rk, n_classes);
            let sk = score_key(&exp.metrics.include, &ck, &rk, truth.as_deref());
            PlannedCell {
                id: cell.id.clone(),
                features_cached: fc,
                represent: store.contains(REPRESENT, &rk),
                cluster: store.contains(CLUSTER, &ck),
                score: store.contains(SCORE, &sk),
                keys: [
                    ("features", fk),
                    (REPRESENT, rk),
                    (CLUSTER, ck),
                    (SCORE, sk),
                ]
                .into_iter()
                .map(|(s, k)| (s.to_string(), k.hex()))
                .collect(),
                params: base_result(cell).params,
            }
        })
        .collect())
}

/// What a represent task produced (or why it failed).
struct Represented {
    key: Key,
    latent: Arc<Array2<f32>>,
    history: Vec<EpochLoss>,
    seconds: f64,
    cached: bool,
}

pub struct RunOutcome {
    pub record: RunRecord,
}

/// Runs the experiment (or one cell of it) and returns the results record.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    let store = Store::open(exp.cache_dir())?;
    store.sweep_stale_tmp();
    let choice = device::parse_device(&exp.experiment.device).map_err(|e| anyhow!(e))?;
    let (device, device_name) = device::open(choice)?;

    let cells: Vec<&Cell> = match &opts.cell {
        Some(id) => {
            let c = find_cell(exp, id)?;
            vec![c]
        }
        None => exp.cells.iter().collect(),
    };

    // Dataset.
    let mut data: ResolvedDataset = dataset::resolve(&exp.dataset, &store)?;
    data.materialize(&store)
        .context("cannot write the synthetic corpus")?;
    let truth_all = data.label_index();

    // Features, once per feature set that a selected cell needs.
    let mut needed: Vec<&Arc<crate::spec::FeatureVariant>> = Vec::new();
    for c in &cells {
        if !needed.iter().any(|f| f.label == c.features.label) {
            needed.push(&c.features);
        }
    }
    let pb = bar(needed.len() * data.tracks.len(), "features", opts.quiet);
    let mut matrices: HashMap<String, Result<Arc<FeatureMatrix>, String>> = HashMap::new();
    for fv in needed {
        let r = features::compute(&exp.dataset, &data, &fv.spec, &store, &device, &pb)
            .map(Arc::new)
            .map_err(|e| format!("features `{}`: {e:#}", fv.label));
        // on_error = "fail": a bad file stops the whole run (exit 3), not just its cells.
        if let (Err(e), crate::data::OnError::Fail) = (&r, exp.dataset.on_error()) {
            pb.finish_and_clear();
            anyhow::bail!("{e}");
        }
        matrices.insert(fv.label.clone(), r);
    }
    pb.finish_and_clear();

    // Represent: one task per distinct key.
    // A condition column that does not exist is a spec error for the whole run.
    let conditions = conditions(cells.iter().copied(), &data)?;
    let mut tasks: Vec<(&Cell, Arc<FeatureMatrix>, Key)> = Vec::new();
    let mut cell_repr: Vec<Option<Key>> = Vec::new();
    for c in &cells {
        match &matrices[&c.features.label] {
            Ok(fm) => {
                let cond = conditions[&c.repr.label].as_deref();
                let k = represent_key(c, &fm.key, &device_name, cond);
                if !tasks.iter().any(|(_, _, t)| *t == k) {
                    tasks.push((c, fm.clone(), k));
                }
                cell_repr.push(Some(k));
            }
            Err(_) => cell_repr.push(None),
        }
    }
    let pb = bar(tasks.len(), "represent", opts.quiet);
    let represented: HashMap<Key, Result<Represented, String>> = tasks
        .par_iter()
        .map(|(cell, fm, key)| {
            let cond = conditions[&cell.repr.label].as_deref();
            let r = represent(cell, fm, cond, *key, &store, &device)
                .map_err(|e| format!("{}: {e:#}", cell.repr.label));
            pb.inc(1);
            (*key, r)
        })
        .collect();
    pb.finish_and_clear();

    // Project each latent to 2-D for the figures (cached like any stage).
    let ok: Vec<&Represented> = represented
        .values()
        .filter_map(|r| r.as_ref().ok())
        .collect();
    let pb = bar(ok.len(), "project", opts.quiet);
    let projection = exp.report.projection;
    let outcomes: Vec<(String, Result<Projected>)> = ok
        .par_iter()
        .map(|r| {
            let out = project(r, &projection, &store);
            pb.inc(1);
            (r.key.hex(), out)
        })
        .collect();
    // A projection that fails (e.g. too few points) only loses a figure: it
    // becomes a warning, not a failed cell.
    let mut projections: BTreeMap<String, Projected> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (key, out) in outcomes {
        match out {
            Ok(p) => {
                projections.insert(key, p);
            }
            Err(e) => warnings.push(format!(
                "2-D projection of representation {}: {e:#}",
                &key[..12]
            )),
        }
    }
    pb.finish_and_clear();
    for (label, m) in &matrices {
        if let Some(w) = m.as_ref().ok().and_then(|m| m.degenerate_warning(label)) {
            warnings.push(w);
        }
    }

    // Cluster and score every cell.
    let pb = bar(cells.len(), "cluster", opts.quiet);
    let mut results: Vec<CellResult> = cells
        .par_iter()
        .zip(cell_repr.par_iter())
        .map(|(cell, rk)| {
            let fm = &matrices[&cell.features.label];
            let r = cluster_and_score(
                exp,
                cell,
                fm,
                rk.and_then(|k| represented.get(&k)),
                &data,
                truth_all.as_deref(),
                &store,
            );
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();

    // A representation conditioned on the labels themselves has seen the
    // answer: flag its cells and say so.
    for (label, values) in &conditions {
        let (Some(values), Some(truth)) = (values, &truth_all) else {
            continue;
        };
        if same_partition(values, truth) {
            let column = cells
                .iter()
                .find(|c| &c.repr.label == label)
                .and_then(|c| c.repr.repr.condition())
                .unwrap_or("label")
                .to_string();
            warnings.push(format!(
                "label leak: `{label}` is conditioned on `{column}`, which partitions the tracks \
                 exactly as the true labels do; its external metrics (NMI, ARI, …) are not comparable"
            ));
            for r in results.iter_mut().filter(|r| &r.representation == label) {
                r.label_leak = Some(column.clone());
            }
        }
    }

    let mut histories = BTreeMap::new();
    for (k, r) in &represented {
        if let Ok(r) = r {
            if !r.history.is_empty() {
                histories.insert(k.hex(), r.history.clone());
            }
        }
    }
    let mut skipped = Vec::new();
    for (label, m) in &matrices {
        if let Ok(m) = m {
            for (t, reason) in &m.skipped {
                skipped.push(SkippedTrack {
                    track: t.clone(),
                    feature_set: label.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }
    skipped.sort_by(|a, b| (&a.track, &a.feature_set).cmp(&(&b.track, &b.feature_set)));
    let classes = data
        .classes
        .iter()
        .map(|c| ClassCount {
            name: c.clone(),
            tracks: data
                .tracks
                .iter()
                .filter(|t| t.label.as_deref() == Some(c))
                .count(),
        })
        .collect();
    let record = RunRecord {
        experiment: exp.experiment.name.clone(),
        title: exp.report.title.clone(),
        description: exp.experiment.description.clone(),
        file: exp.file.display().to_string(),
        vaerun_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git_commit(exp.file.parent().unwrap_or(Path::new("."))),
        device: device_name,
        wall_seconds: started.elapsed().as_secs_f64(),
        dataset: DatasetInfo {
            description: exp.dataset.describe(),
            tracks: data.tracks.len(),
            classes,
            skipped,
            track_ids: data.tracks.iter().map(|t| t.id.clone()).collect(),
            track_labels: data.tracks.iter().map(|t| t.label.clone()).collect(),
            rows: matrices
                .iter()
                .filter_map(|(l, m)| m.as_ref().ok().map(|m| (l.clone(), m.rows.clone())))
                .collect(),
        },
        cache: store.counts(),
        sort_by: exp.report.sort_by.clone().unwrap_or_else(|| {
            if truth_all.is_some() {
                "nmi_arithmetic"
            } else {
                "silhouette"
            }
            .to_string()
        }),
        cells: results,
        histories,
        projections,
        warnings,
    };
    Ok(RunOutcome { record })
}

pub const PROJECT: &str = "project";

fn project(r: &Represented, projection: &Projection, store: &Store) -> Result<Projected> {
    let key = KeyBuilder::new(PROJECT, 1)
        .params("projection", &serde_json::to_value(projection)?)
        .input("latent", &r.key)
        .finish();
    let (dir, _) = store.get_or_build(PROJECT, &key, |tmp| {
        let p = projection.project(&r.latent, 0)?;
        ndarray_npy::write_npy(tmp.join("points.npy"), &p)?;
        Ok(())
    })?;
    let p: Array2<f32> = ndarray_npy::read_npy(dir.join("points.npy"))
        .with_context(|| format!("corrupt cache entry {}", dir.display()))?;
    let method = match projection {
        Projection::Pca => "pca",
        Projection::Tsne { .. } => "tsne",
    };
    Ok(Projected {
        method: method.into(),
        points: p.rows().into_iter().map(|r| [r[0], r[1]]).collect(),
    })
}

/// Whether two labellings group the tracks identically (up to renaming).
fn same_partition(a: &[String], b: &[usize]) -> bool {
    let mut ab: HashMap<&str, usize> = HashMap::new();
    let mut ba: HashMap<usize, &str> = HashMap::new();
    a.iter().zip(b).all(|(x, &y)| {
        *ab.entry(x.as_str()).or_insert(y) == y && *ba.entry(y).or_insert(x.as_str()) == x.as_str()
    })
}

/// Each representation's condition values (see [`condition_values`]),
/// computed once per representation, not per cell.
fn conditions<'a>(
    cells: impl Iterator<Item = &'a Cell>,
    data: &ResolvedDataset,
) -> Result<HashMap<String, Option<Vec<String>>>> {
    let mut out = HashMap::new();
    for c in cells {
        if !out.contains_key(&c.repr.label) {
            out.insert(c.repr.label.clone(), condition_values(c, data)?);
        }
    }
    Ok(out)
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

fn represent(
    cell: &Cell,
    fm: &FeatureMatrix,
    condition: Option<&[String]>,
    key: Key,
    store: &Store,
    device: &candle_core::Device,
) -> Result<Represented> {
    let t = Instant::now();
    if let Some(dir) = store.lookup(REPRESENT, &key) {
        let latent: Array2<f32> = ndarray_npy::read_npy(dir.join("latent.npy"))
            .with_context(|| format!("corrupt cache entry {}", dir.display()))?;
        let history: Vec<EpochLoss> =
            serde_json::from_slice(&std::fs::read(dir.join("history.json"))?)?;
        return Ok(Represented {
            key,
            latent: Arc::new(latent),
            history,
            seconds: t.elapsed().as_secs_f64(),
            cached: true,
        });
    }
    let condition = match (cell.repr.repr.condition(), condition) {
        (Some(name), Some(all)) => {
            let rows: Vec<String> = fm.rows.iter().map(|&i| all[i].clone()).collect();
            Some(crate::models::Condition::from_values(name, &rows))
        }
        _ => None,
    };
    let mut out = None;
    store.publish(REPRESENT, &key, |tmp| {
        let fitted = cell.repr.repr.fit(
            &FitInput {
                x: &fm.x,
                layout: &fm.layout,
                condition: condition.as_ref(),
                seed: cell.seed,
                device,
            },
            tmp,
        )?;
        if let Some(bad) = fitted.latent.iter().position(|v| !v.is_finite()) {
            anyhow::bail!("latent value {bad} is not finite");
        }
        ndarray_npy::write_npy(tmp.join("latent.npy"), &fitted.latent)?;
        std::fs::write(
            tmp.join("history.json"),
            serde_json::to_vec(&fitted.history)?,
        )?;
        out = Some(fitted);
        Ok(())
    })?;
    let fitted = out.unwrap();
    Ok(Represented {
        key,
        latent: Arc::new(fitted.latent),
        history: fitted.history,
        seconds: t.elapsed().as_secs_f64(),
        cached: false,
    })
}

fn base_result(cell: &Cell) -> CellResult {
    let mut params = BTreeMap::new();
    let mut add = |prefix: &str, v: serde_json::Value| {
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                if k != "kind" {
                    params.insert(format!("{prefix}.{k}"), v);
                }
            }
        }
    };
    add(
        "features",
        serde_json::to_value(&cell.features.spec).unwrap(),
    );
    add("repr", cell.repr.repr.params());
    add("cluster", cell.clusterer.clusterer.params());
    CellResult {
        cell: cell.id.clone(),
        status: CellStatus::Failed,
        error: None,
        feature_set: cell.features.label.clone(),
        representation: cell.repr.label.clone(),
        representation_kind: cell.repr.repr.kind().to_string(),
        group: format!("{:?}", cell.repr.group).to_lowercase(),
        clusterer: cell.clusterer.label.clone(),
        clusterer_kind: cell.clusterer.clusterer.kind().to_string(),
        seed: cell.seed,
        params,
        tracks: 0,
        clusters: None,
        noise_fraction: None,
        metrics: BTreeMap::new(),
        undefined: BTreeMap::new(),
        noise_excluded: BTreeMap::new(),
        control: BTreeMap::new(),
        timings: BTreeMap::new(),
        cached: BTreeMap::new(),
        final_loss: None,
        keys: BTreeMap::new(),
        assignments: Vec::new(),
        label_leak: None,
    }
}

fn cluster_and_score(
    exp: &Experiment,
    cell: &Cell,
    fm: &Result<Arc<FeatureMatrix>, String>,
    rep: Option<&Result<Represented, String>>,
    data: &ResolvedDataset,
    truth_all: Option<&[usize]>,
    store: &Store,
) -> CellResult {
    let mut res = base_result(cell);
    let fm = match fm {
        Ok(fm) => fm,
        Err(e) => {
            res.error = Some(e.clone());
            return res;
        }
    };
    res.tracks = fm.rows.len();
    res.keys.insert("features".into(), fm.key.hex());
    res.timings.insert("features".into(), fm.seconds);
    res.cached
        .insert("features".into(), fm.cache_hits == data.tracks.len());
    let rep = match rep {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            res.error = Some(e.clone());
            return res;
        }
        None => {
            res.error = Some("representation was not computed".into());
            return res;
        }
    };
    res.keys.insert(REPRESENT.into(), rep.key.hex());
    res.timings.insert(REPRESENT.into(), rep.seconds);
    res.cached.insert(REPRESENT.into(), rep.cached);
    res.final_loss = rep.history.last().cloned();
    let truth: Option<Vec<usize>> = truth_all.map(|t| fm.rows.iter().map(|&i| t[i]).collect());
    let n_classes = truth.as_ref().map(|_| data.classes.len());
    match cluster_stage(exp, cell, rep, n_classes, truth.as_deref(), store, &mut res) {
        Ok(()) => res.status = CellStatus::Ok,
        Err(e) => res.error = Some(format!("{}: {e:#}", cell.clusterer.label)),
    }
    res
}

fn cluster_stage(
    exp: &Experiment,
    cell: &Cell,
    rep: &Represented,
    n_classes: Option<usize>,
    truth: Option<&[usize]>,
    store: &Store,
    res: &mut CellResult,
) -> Result<()> {
    let ck = cluster_key(cell, &rep.key, n_classes);
    let t = Instant::now();
    let (dir, cached) = store.get_or_build(CLUSTER, &ck, |tmp| {
        let labels = cell
            .clusterer
            .clusterer
            .fit_predict(&rep.latent, n_classes, cell.seed)?;
        ndarray_npy::write_npy(tmp.join("labels.npy"), &ndarray::Array1::from(labels))?;
        Ok(())
    })?;
    let labels: ndarray::Array1<i64> = ndarray_npy::read_npy(dir.join("labels.npy"))
        .with_context(|| format!("corrupt cache entry {}", dir.display()))?;
    let labels = labels.to_vec();
    res.keys.insert(CLUSTER.into(), ck.hex());
    res.timings.insert(
        CLUSTER.into(),
        if cached {
            0.0
        } else {
            t.elapsed().as_secs_f64()
        },
    );
    res.cached.insert(CLUSTER.into(), cached);
    res.clusters = Some(
        labels
            .iter()
            .filter(|&&l| l >= 0)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
    );
    res.assignments = labels.clone();
    res.noise_fraction =
        Some(labels.iter().filter(|&&l| l == -1).count() as f64 / labels.len() as f64);

    let sk = score_key(&exp.metrics.include, &ck, &rep.key, truth);
    let t = Instant::now();
    let (dir, cached) = store.get_or_build(SCORE, &sk, |tmp| {
        let x = rep.latent.mapv(|v| v as f64);
        let card = metrics::scorecard(x.view(), &labels, truth, &exp.metrics.include, cell.seed);
        std::fs::write(tmp.join("metrics.json"), serde_json::to_vec_pretty(&card)?)?;
        Ok(())
    })?;
    let card: metrics::Scorecard =
        serde_json::from_slice(&std::fs::read(dir.join("metrics.json"))?)
            .with_context(|| format!("corrupt cache entry {}", dir.display()))?;
    res.keys.insert(SCORE.into(), sk.hex());
    res.timings.insert(
        SCORE.into(),
        if cached {
            0.0
        } else {
            t.elapsed().as_secs_f64()
        },
    );
    res.cached.insert(SCORE.into(), cached);
    for (name, s) in card.metrics {
        if let Some(r) = s.reason {
            res.undefined.insert(name.clone(), r);
        }
        res.metrics.insert(name, s.value);
    }
    for (name, s) in card.noise_excluded.iter().flatten() {
        if let Some(r) = &s.reason {
            res.undefined
                .insert(format!("noise_excluded.{name}"), r.clone());
        }
    }
    let values = |m: Option<BTreeMap<String, metrics::Score>>| -> BTreeMap<String, Option<f64>> {
        m.unwrap_or_default()
            .into_iter()
            .map(|(k, s)| (k, s.value))
            .collect()
    };
    res.noise_excluded = values(card.noise_excluded);
    res.control = values(card.control);
    Ok(())
}

/// The commit of the repository holding the experiment, if any (plain `git`
/// process, no shell).
pub fn git_commit(dir: &Path) -> Option<String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The cell with this id, or an error suggesting the nearest id: a
/// [`crate::spec::SpecError`], so the command line reports a bad argument.
fn find_cell<'a>(exp: &'a Experiment, id: &str) -> Result<&'a Cell> {
    exp.cells.iter().find(|c| c.id == id).ok_or_else(|| {
        let near = crate::spec::suggest::nearest(id, exp.cells.iter().map(|c| c.id.as_str()));
        anyhow::Error::new(crate::spec::SpecError {
            location: "--cell".into(),
            key: String::new(),
            message: format!(
                "no cell `{id}` in {}{}; `runner plan` lists the cells",
                exp.file.display(),
                near.map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default()
            ),
        })
    })
}

/// Why each stage of a cell is, or is not, cached: `runner plan --explain`.
/// Compares the keys and parameters the cell has now with those recorded for
/// it in the experiment's last results.json.
pub fn explain(exp: &Experiment, cell_id: &str) -> Result<Vec<String>> {
    // Check the id before `plan`, which hashes every audio file.
    find_cell(exp, cell_id)?;
    let planned = plan(exp)?;
    let cell = planned
        .iter()
        .find(|c| c.id == cell_id)
        .expect("plan has every cell of the experiment");
    let previous = crate::report::load(&exp.report_dir())
        .ok()
        .and_then(|r| r.cells.into_iter().find(|c| c.cell == cell_id));
    let mut lines = vec![format!("cell {cell_id}")];
    let (fc, ft) = cell.features_cached;
    let cached = [
        ("features", fc == ft),
        (REPRESENT, cell.represent),
        (CLUSTER, cell.cluster),
        (SCORE, cell.score),
    ];
    // Parameters that feed each stage, by results-table prefix.
    let feeds = |stage: &str, name: &str| match stage {
        "features" => name.starts_with("features."),
        REPRESENT => name.starts_with("repr."),
        CLUSTER => name.starts_with("cluster."),
        _ => false,
    };
    let inputs: &[(&str, &[&str])] = &[
        ("features", &[]),
        (REPRESENT, &["features"]),
        (CLUSTER, &[REPRESENT]),
        (SCORE, &[CLUSTER, REPRESENT]),
    ];
    for ((stage, is_cached), (_, deps)) in cached.iter().zip(inputs) {
        if *is_cached {
            lines.push(format!("  {stage}: cached"));
            continue;
        }
        if *stage == "features" && fc > 0 {
            lines.push(format!(
                "  features: {} of {ft} tracks cached; the others are new or changed files",
                fc
            ));
            continue;
        }
        let Some(prev) = &previous else {
            lines.push(format!(
                "  {stage}: to compute (no earlier result for this cell in {})",
                exp.report_dir().join("results.json").display()
            ));
            continue;
        };
        let mut why = Vec::new();
        for (name, now) in cell.params.iter().filter(|(n, _)| feeds(stage, n)) {
            match prev.params.get(name) {
                Some(before) if before == now => {}
                Some(before) => why.push(format!("{name} changed: {before} -> {now}")),
                None => why.push(format!("{name} is new: {now}")),
            }
        }
        for (name, before) in prev.params.iter().filter(|(n, _)| feeds(stage, n)) {
            if !cell.params.contains_key(name) {
                why.push(format!("{name} was removed (was {before})"));
            }
        }
        for dep in *deps {
            if prev
                .keys
                .get(*dep)
                .is_some_and(|k| Some(k) != cell.keys.get(*dep))
            {
                why.push(format!("its input `{dep}` changed"));
            }
        }
        if why.is_empty() {
            why.push(if prev.keys.get(*stage) == cell.keys.get(*stage) {
                "same key as last time, but the artifact is not in the cache (deleted, or another cache_dir)".to_string()
            } else {
                "same parameters and inputs, new key: the stage's format version or the dataset changed".to_string()
            });
        }
        lines.push(format!("  {stage}: to compute: {}", why.join("; ")));
    }
    Ok(lines)
}
