//! Plans and executes the cells of an experiment. The only module that knows
//! the order of the stages: dataset → features → represent → project →
//! cluster → score. Which artifacts exist and what their keys are is the
//! stage graph's business ([`graph`]); what each stage does is in
//! [`stages`]; this module runs them in order and records the results.
//!
//! A stage that fails fails only the cells downstream of it; the others
//! still run.

pub mod dataset;
pub mod features;
pub mod graph;
mod progress;
pub mod scaling;
pub mod stages;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;

use crate::cache::Store;
use crate::models::device;
use crate::report::results::{
    CellResult, CellStatus, ClassCount, DatasetInfo, Projected, RunRecord, SkippedTrack,
};
use crate::spec::{Cell, Experiment};
use dataset::ResolvedDataset;
use features::{FeatureMatrix, Missing};
pub use graph::{StageGraph, CLUSTER, FEATURES, PROJECT, REPRESENT, SCORE};
use progress::Progress;
use stages::{Compute, Represented, StageRun};

/// Which cells a run computes.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Selection {
    #[default]
    All,
    /// One cell, by the id `runner plan` lists.
    Cell(String),
    /// The cells of one unit (one representation and every clusterer on
    /// it), by the id `runner plan --units` lists: what a SLURM task runs.
    Unit(String),
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub quiet: bool,
    pub select: Selection,
    /// Compute nothing expensive: features and representations must come
    /// from the cache, and cells whose artifacts are missing are reported
    /// failed (a report job after a cluster submission).
    pub from_cache: bool,
    /// Why a unit's artifacts are missing, when known (its task's error),
    /// by unit id; used with `from_cache`.
    pub unit_errors: BTreeMap<String, String>,
}

/// A selection that names no cell or unit: the command line is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnknownSelection(pub String);

/// What every command opens first: the cache, the device, the dataset.
pub struct Workspace {
    pub store: Store,
    pub device: candle_core::Device,
    pub device_name: String,
    pub data: ResolvedDataset,
}

impl Workspace {
    pub fn open(exp: &Experiment) -> Result<Workspace> {
        let store = Store::open(exp.cache_dir())?;
        let choice = device::parse_device(&exp.experiment.device).map_err(|e| anyhow!(e))?;
        let (device, device_name) = device::open(choice)?;
        let data = dataset::resolve(&exp.dataset, &store)?;
        Ok(Workspace {
            store,
            device,
            device_name,
            data,
        })
    }

    /// The stage graph of the given cells, as the cache stands now.
    pub fn graph(&self, exp: &Experiment, cells: &[usize]) -> Result<StageGraph> {
        StageGraph::build(exp, &self.data, &self.store, &self.device_name, cells)
    }
}

/// The indices of the selected cells.
pub fn select(exp: &Experiment, sel: &Selection) -> Result<Vec<usize>> {
    match sel {
        Selection::All => Ok((0..exp.cells.len()).collect()),
        Selection::Cell(id) => Ok(vec![find_cell(exp, id)?]),
        Selection::Unit(id) => {
            let cells: Vec<usize> = (0..exp.cells.len())
                .filter(|&i| graph::unit_id(&exp.cells[i]) == *id)
                .collect();
            if cells.is_empty() {
                let mut ids: Vec<String> = exp.cells.iter().map(graph::unit_id).collect();
                ids.dedup();
                let near = crate::spec::suggest::nearest(id, ids.iter().map(String::as_str));
                return Err(UnknownSelection(format!(
                    "no unit `{id}` in {}{}; `runner plan --units` lists them",
                    exp.file.display(),
                    near.map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default()
                ))
                .into());
            }
            Ok(cells)
        }
    }
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

impl PlannedCell {
    pub fn fully_cached(&self) -> bool {
        self.represent
            && self.cluster
            && self.score
            && self.features_cached.0 == self.features_cached.1
    }
}

/// Every cell's keys and cache state, computing nothing.
pub fn plan(exp: &Experiment) -> Result<Vec<PlannedCell>> {
    let ws = Workspace::open(exp)?;
    let all: Vec<usize> = (0..exp.cells.len()).collect();
    let g = ws.graph(exp, &all)?;
    Ok(planned_cells(exp, &g, &ws.store))
}

fn planned_cells(exp: &Experiment, g: &StageGraph, store: &Store) -> Vec<PlannedCell> {
    (0..g.cells.len())
        .map(|c| {
            let k = &g.cells[c];
            let cell = &exp.cells[k.cell];
            PlannedCell {
                id: cell.id.clone(),
                features_cached: g.tracks_cached(k.feature_set),
                represent: g.cached(store, k.represent),
                cluster: g.cached(store, k.cluster),
                score: g.cached(store, k.score),
                keys: g.cell_keys(c),
                params: base_result(cell).params,
            }
        })
        .collect()
}

pub struct RunOutcome {
    pub record: RunRecord,
}

/// Runs the experiment (or the selected cells) and returns the results.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    let mut ws = Workspace::open(exp)?;
    ws.store.sweep_stale_tmp();
    let selected = select(exp, &opts.select)?;
    ws.data
        .materialize(&ws.store)
        .context("cannot write the synthetic corpus")?;
    let progress = Progress::new(opts.quiet);
    let compute = if opts.from_cache {
        Compute::Nothing
    } else {
        Compute::Missing
    };

    let matrices = feature_stage(exp, &ws, &selected, &progress, opts)?;
    // The graph, now that every track's outcome is in the cache.
    let g = ws.graph(exp, &selected)?;
    for f in &g.feature_sets {
        if let Some(Ok(m)) = matrices.get(&f.label) {
            anyhow::ensure!(
                m.rows == f.rows,
                "internal error: feature set `{}` has {} rows, the stage graph {}",
                f.label,
                m.rows.len(),
                f.rows.len()
            );
        }
    }

    // Represent and project: one task per unit, in parallel.
    let pb = progress.stage(REPRESENT, g.units.len(), "representations to fit or load");
    let represented: Vec<Result<Represented, String>> = g
        .units
        .par_iter()
        .map(|unit| {
            let cell = &exp.cells[g.cells[unit.cells[0]].cell];
            let out = match &matrices[&cell.features.label] {
                Ok(fm) => {
                    let observer = progress.training(unit.id.clone());
                    stages::represent(
                        &g, unit, cell, fm, &ws.store, &ws.device, compute, &observer,
                    )
                    .map_err(|e| {
                        let why = opts.unit_errors.get(&unit.id).cloned();
                        match why {
                            Some(w) if opts.from_cache => format!("{}: {w}", cell.repr.label),
                            _ => format!("{}: {e:#}", cell.repr.label),
                        }
                    })
                }
                Err(e) => Err(e.clone()),
            };
            pb.inc(1);
            out
        })
        .collect();
    pb.finish_and_clear();

    let pb = progress.stage(PROJECT, g.units.len(), "2-D projections");
    let projected: Vec<Option<Result<(Projected, StageRun)>>> = g
        .units
        .par_iter()
        .zip(&represented)
        .map(|(unit, rep)| {
            let out = rep
                .as_ref()
                .ok()
                .map(|r| stages::project(exp, &g, unit, r, &ws.store));
            pb.inc(1);
            out
        })
        .collect();
    pb.finish_and_clear();
    // A projection that fails (e.g. too few points) only loses a figure: it
    // becomes a warning, not a failed cell.
    let mut projections = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut compute_seconds = 0.0;
    for (u, p) in projected.into_iter().enumerate() {
        let key = g.key(g.units[u].represent).hex();
        match p {
            Some(Ok((p, run))) => {
                compute_seconds += run.seconds;
                projections.insert(key, p);
            }
            Some(Err(e)) => warnings.push(format!(
                "2-D projection of representation {}: {e:#}",
                &key[..12]
            )),
            None => {}
        }
    }
    for (label, m) in &matrices {
        if let Some(w) = m.as_ref().ok().and_then(|m| m.degenerate_warning(label)) {
            warnings.push(w);
        }
    }

    // Cluster and score every cell.
    let truth_all = ws.data.label_index();
    let pb = progress.stage(CLUSTER, g.cells.len(), "cells to cluster and score");
    let mut results: Vec<CellResult> = (0..g.cells.len())
        .into_par_iter()
        .map(|c| {
            let cell = &exp.cells[g.cells[c].cell];
            let r = cell_result(
                exp,
                &g,
                c,
                &matrices[&cell.features.label],
                &represented[g.cells[c].unit],
                truth_all.as_deref(),
                &ws.store,
            );
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();

    // A representation conditioned on the labels themselves has seen the
    // answer: flag its cells and say so.
    for (label, values) in &g.conditions {
        let (Some(values), Some(truth)) = (values, &truth_all) else {
            continue;
        };
        if same_partition(values, truth) {
            let column = exp
                .cells
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
    // The tracks each representation's reconstruction figure shows, for the
    // first seed's units only (one figure per configuration keeps
    // results.json small).
    let mut reconstructions = BTreeMap::new();
    let first_seed = exp.experiment.seeds.iter().min().copied();
    for (u, r) in represented.iter().enumerate() {
        if let Ok(r) = r {
            compute_seconds += r.run.seconds;
            let key = g.key(g.units[u].represent).hex();
            if !r.history.is_empty() {
                histories.insert(key.clone(), r.history.clone());
            }
            let seed = exp.cells[g.cells[g.units[u].cells[0]].cell].seed;
            if let Some((_, Some(shown))) = &r.recon {
                if Some(seed) == first_seed {
                    reconstructions.insert(key, shown.clone());
                }
            }
        }
    }
    let mut skipped = Vec::new();
    for (label, m) in &matrices {
        if let Ok(m) = m {
            compute_seconds += m.seconds;
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
    for r in &results {
        for s in [CLUSTER, SCORE] {
            compute_seconds += r.timings.get(s).copied().unwrap_or(0.0);
        }
    }
    for r in &results {
        if let Some(note) = r.k_choice.as_ref().and_then(|k| k.note.as_ref()) {
            warnings.push(format!("{}: {note}", r.cell));
        }
    }
    warnings.extend(ws.store.warnings());
    let data = &ws.data;
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
        device: ws.device_name.clone(),
        wall_seconds: started.elapsed().as_secs_f64(),
        compute_seconds,
        dataset: DatasetInfo {
            description: exp.dataset.describe(),
            kind: exp.dataset.kind().to_string(),
            track_paths: data.audio_paths(),
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
        cache: ws.store.counts(),
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
        reconstructions,
        report: (&exp.report).into(),
    };
    Ok(RunOutcome { record })
}

type Matrices = HashMap<String, Result<Arc<FeatureMatrix>, String>>;

/// Features, once per feature set that a selected cell needs.
fn feature_stage(
    exp: &Experiment,
    ws: &Workspace,
    selected: &[usize],
    progress: &Progress,
    opts: &RunOptions,
) -> Result<Matrices> {
    let mut needed: Vec<&Arc<crate::spec::FeatureVariant>> = Vec::new();
    for &c in selected {
        let fv = &exp.cells[c].features;
        if !needed.iter().any(|f| f.label == fv.label) {
            needed.push(fv);
        }
    }
    let pb = progress.stage(
        FEATURES,
        needed.len() * ws.data.tracks.len(),
        "tracks to extract or load",
    );
    let missing = if opts.from_cache {
        Missing::Fail
    } else {
        Missing::Extract
    };
    let mut matrices = HashMap::new();
    for fv in needed {
        let r = features::compute(
            &exp.dataset,
            &ws.data,
            &fv.spec,
            &ws.store,
            &ws.device,
            &pb,
            missing,
        )
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
    Ok(matrices)
}

/// What `runner run --stage features` did.
pub struct Extracted {
    pub tracks: usize,
    pub computed: usize,
    pub failed: usize,
}

/// Extracts the per-track features of every feature set the experiment
/// uses, for the tracks of one shard (`index % count == shard`): the first
/// job of a cluster submission. Builds no matrix and trains nothing.
pub fn extract(exp: &Experiment, shard: (usize, usize), quiet: bool) -> Result<Extracted> {
    let mut ws = Workspace::open(exp)?;
    ws.data
        .materialize(&ws.store)
        .context("cannot write the synthetic corpus")?;
    let progress = Progress::new(quiet);
    let mut sets: Vec<&crate::spec::FeatureVariant> = Vec::new();
    for c in &exp.cells {
        if !sets.iter().any(|f| f.label == c.features.label) {
            sets.push(&c.features);
        }
    }
    let (i, n) = shard;
    let mine = |t: usize| t % n == i;
    let per_set = (0..ws.data.tracks.len()).filter(|&t| mine(t)).count();
    let pb = progress.stage(FEATURES, per_set * sets.len(), "tracks to extract or load");
    let mut out = Extracted {
        tracks: 0,
        computed: 0,
        failed: 0,
    };
    for fv in sets {
        if fv.spec.features.is_empty() || ws.data.precomputed.is_some() {
            continue;
        }
        let done = features::extract_tracks(
            &exp.dataset,
            &ws.data,
            &fv.spec,
            &ws.store,
            &pb,
            Missing::Extract,
            mine,
        )?;
        for (_, r, cached, _) in done {
            out.tracks += 1;
            out.computed += usize::from(!cached);
            out.failed += usize::from(r.is_err());
        }
    }
    pb.finish_and_clear();
    Ok(out)
}

/// Whether two labellings group the tracks identically (up to renaming).
fn same_partition(a: &[String], b: &[usize]) -> bool {
    let mut ab: HashMap<&str, usize> = HashMap::new();
    let mut ba: HashMap<usize, &str> = HashMap::new();
    a.iter().zip(b).all(|(x, &y)| {
        *ab.entry(x.as_str()).or_insert(y) == y && *ba.entry(y).or_insert(x.as_str()) == x.as_str()
    })
}

/// A cell's identity and parameters, before anything ran.
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
        serde_json::to_value(&cell.features.spec).expect("feature spec serialises"),
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
        exemplars: BTreeMap::new(),
        label_leak: None,
        recon_error: None,
        k_choice: None,
    }
}

/// The one place a cell's result is assembled: its features and
/// representation (done per feature set and per unit), then its own
/// cluster and score stages.
fn cell_result(
    exp: &Experiment,
    g: &StageGraph,
    c: usize,
    fm: &Result<Arc<FeatureMatrix>, String>,
    rep: &Result<Represented, String>,
    truth_all: Option<&[usize]>,
    store: &Store,
) -> CellResult {
    let cell = &exp.cells[g.cells[c].cell];
    let mut res = base_result(cell);
    res.keys = g.cell_keys(c);
    let fm = match fm {
        Ok(fm) => fm,
        Err(e) => {
            res.error = Some(e.clone());
            return res;
        }
    };
    res.tracks = fm.rows.len();
    res.timings.insert(FEATURES.into(), fm.seconds);
    res.cached.insert(
        FEATURES.into(),
        fm.cache_hits == fm.rows.len() + fm.skipped.len(),
    );
    let rep = match rep {
        Ok(r) => r,
        Err(e) => {
            res.error = Some(e.clone());
            return res;
        }
    };
    record(&mut res, REPRESENT, &rep.run);
    res.final_loss = rep.history.last().cloned();
    res.recon_error = rep.recon.as_ref().map(|r| r.0);
    let truth: Option<Vec<usize>> = truth_all.map(|t| fm.rows.iter().map(|&i| t[i]).collect());
    let clustered = stages::cluster(g, c, cell, rep, store).and_then(|(clustering, run)| {
        record(&mut res, CLUSTER, &run);
        res.k_choice = clustering.k_choice;
        let labels = clustering.labels;
        // The tracks nearest each cluster's centre, for listening.
        res.exemplars = crate::cluster::exemplars(&rep.latent, &labels, exp.report.listen);
        res.clusters = Some(
            labels
                .iter()
                .filter(|&&l| l >= 0)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
        );
        res.noise_fraction =
            Some(labels.iter().filter(|&&l| l == -1).count() as f64 / labels.len() as f64);
        let (card, run) = stages::score(exp, g, c, rep, &labels, truth.as_deref(), store)?;
        record(&mut res, SCORE, &run);
        res.assignments = labels;
        Ok(card)
    });
    match clustered {
        Ok(card) => {
            res.status = CellStatus::Ok;
            for (name, s) in card.metrics {
                if let Some(r) = s.reason {
                    res.undefined.insert(name.clone(), r);
                }
                res.metrics.insert(name, s.value);
            }
            let values = |m: Option<BTreeMap<String, crate::cluster::metrics::Score>>| {
                m.unwrap_or_default()
                    .into_iter()
                    .map(|(k, s)| (k, s.value))
                    .collect::<BTreeMap<String, Option<f64>>>()
            };
            // Noise-excluded scores on zero points (all noise) are
            // undefined too, and say why.
            for (name, s) in card.noise_excluded.iter().flatten() {
                if let Some(r) = &s.reason {
                    res.undefined
                        .insert(format!("noise_excluded.{name}"), r.clone());
                }
            }
            res.noise_excluded = values(card.noise_excluded);
            res.control = values(card.control);
        }
        Err(e) => res.error = Some(format!("{}: {e:#}", cell.clusterer.label)),
    }
    res
}

fn record(res: &mut CellResult, stage: &str, run: &StageRun) {
    res.timings.insert(stage.into(), run.seconds);
    res.cached.insert(stage.into(), run.cached);
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

/// The index of the cell with this id, or an error suggesting the nearest.
pub fn find_cell(exp: &Experiment, id: &str) -> Result<usize> {
    exp.cells.iter().position(|c| c.id == id).ok_or_else(|| {
        let near = crate::spec::suggest::nearest(id, exp.cells.iter().map(|c| c.id.as_str()));
        UnknownSelection(format!(
            "no cell `{id}` in {}{}; `runner plan` lists the cells",
            exp.file.display(),
            near.map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default()
        ))
        .into()
    })
}

/// Why each stage of a cell is, or is not, cached: `runner plan --explain`.
/// Compares the keys and parameters the cell has now with those recorded for
/// it in the experiment's last results.json.
pub fn explain(exp: &Experiment, cell_id: &str) -> Result<Vec<String>> {
    // Check the id before building the graph, which hashes every audio file.
    let ci = find_cell(exp, cell_id)?;
    let ws = Workspace::open(exp)?;
    let g = ws.graph(exp, &[ci])?;
    let cell = planned_cells(exp, &g, &ws.store)
        .pop()
        .expect("the graph has the one cell");
    let previous = crate::report::load(&exp.report_dir())
        .ok()
        .and_then(|r| r.cells.into_iter().find(|c| c.cell == cell_id));
    let mut lines = vec![format!("cell {cell_id} (unit {})", g.units[0].id)];
    let (fc, ft) = cell.features_cached;
    let cached = [
        (FEATURES, fc == ft),
        (REPRESENT, cell.represent),
        (CLUSTER, cell.cluster),
        (SCORE, cell.score),
    ];
    // Parameters that feed each stage, by results-table prefix.
    let feeds = |stage: &str, name: &str| match stage {
        FEATURES => name.starts_with("features."),
        REPRESENT => name.starts_with("repr."),
        CLUSTER => name.starts_with("cluster."),
        _ => false,
    };
    let inputs: &[(&str, &[&str])] = &[
        (FEATURES, &[]),
        (REPRESENT, &[FEATURES]),
        (CLUSTER, &[REPRESENT]),
        (SCORE, &[CLUSTER, REPRESENT]),
    ];
    for ((stage, is_cached), (_, deps)) in cached.iter().zip(inputs) {
        if *is_cached {
            lines.push(format!("  {stage}: cached"));
            continue;
        }
        if *stage == FEATURES && fc > 0 {
            lines.push(format!(
                "  features: {fc} of {ft} tracks cached; the others are new or changed files"
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
