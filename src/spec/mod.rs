//! The experiment schema: loading (file < environment < `--set`), validation
//! with located errors, and grid expansion into cells.

pub mod error;
pub mod grid;
mod grid_size;
pub mod schema;
pub mod source;
pub mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cluster::project::Projection;
use crate::cluster::{self, Clusterer};
use crate::data::DatasetSpec;
use crate::dsp::FeatureSetSpec;
use crate::models::{self, Representer};
pub use error::{KeyError, SpecError};
use source::Sources;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    /// Names the report folder (`reports/<name>/`).
    pub name: String,
    /// Shown at the top of the report.
    #[serde(default)]
    pub description: String,
    /// Every cell runs once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// `cpu`, `cuda`, `cuda:N`, `metal` or `auto`.
    #[serde(default = "default_device")]
    pub device: String,
    /// Content-addressed cache; relative paths are relative to the working
    /// directory. Default `.vaerun-cache`.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Worker threads for parallel stages (0 = all cores). A cap: more than
    /// the cores available is reduced to them, with a warning.
    #[serde(default)]
    pub threads: usize,
    /// The most cells the grid may expand to; a larger grid is refused
    /// unless this is raised or the command is given `--yes`.
    #[serde(default = "default_max_cells")]
    pub max_cells: usize,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}
/// Large enough for any study one machine finishes in a day, small enough
/// that a typo in a sweep (a range of a million values) is caught.
pub const DEFAULT_MAX_CELLS: usize = 10_000;
fn default_max_cells() -> usize {
    DEFAULT_MAX_CELLS
}
/// The longest file name most file systems accept (ext4, XFS, APFS, NTFS: 255).
const MAX_NAME_BYTES: usize = 255;
fn default_device() -> String {
    "cpu".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Metric names to compute; default all that apply.
    #[serde(default = "crate::cluster::metrics::default_metric_names")]
    pub include: Vec<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            include: cluster::metrics::default_metric_names(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// The report's title (default: the experiment name).
    #[serde(default)]
    pub title: Option<String>,
    /// Metric that orders the leaderboard; default NMI when labels exist,
    /// silhouette otherwise.
    #[serde(default)]
    pub sort_by: Option<String>,
    /// Folder that receives `<experiment name>/`. Default `reports`.
    #[serde(default = "default_report_dir")]
    pub out_dir: PathBuf,
    /// A folder with `report.html` / `report.md` templates that replace the
    /// built-in ones.
    #[serde(default)]
    pub templates: Option<PathBuf>,
    /// How latents are projected to 2-D for figures:
    /// `{ method = "tsne", perplexity = 30 }` (default), `{ method = "pca" }`
    /// or `{ method = "umap", n_neighbors = 15, min_dist = 0.1 }`.
    #[serde(default = "default_projection")]
    pub projection: Projection,
    /// The clusterer (name or label) whose clusters colour the latent maps;
    /// default: the clusterer of the leaderboard's leading configuration.
    #[serde(default)]
    pub projection_clusterer: Option<String>,
    /// Tracks nearest each cluster's centre to list, with audio players, for
    /// the leading configuration (and `listen_cells`); 0 turns listening off.
    #[serde(default = "crate::report::results::default_listen")]
    pub listen: usize,
    /// More cells (ids) whose clusters are listed for listening.
    #[serde(default)]
    pub listen_cells: Vec<String>,
}

fn default_projection() -> Projection {
    Projection::Tsne {
        perplexity: 30.0,
        iterations: 1000,
        theta: 0.5,
    }
}

fn default_report_dir() -> PathBuf {
    PathBuf::from("reports")
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection {
            title: None,
            sort_by: None,
            out_dir: default_report_dir(),
            templates: None,
            projection: default_projection(),
            projection_clusterer: None,
            listen: crate::report::results::DEFAULT_LISTEN,
            listen_cells: Vec::new(),
        }
    }
}

/// The file's top level. Named sections stay raw tables here: they may hold
/// sweeps, and their schema depends on their `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    experiment: ExperimentSection,
    dataset: toml::Table,
    features: BTreeMap<String, toml::Table>,
    #[serde(default)]
    models: BTreeMap<String, toml::Table>,
    #[serde(default)]
    baselines: BTreeMap<String, toml::Table>,
    clusterers: BTreeMap<String, toml::Table>,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    report: ReportSection,
    #[serde(default)]
    executor: ExecutorSection,
}

/// Where the work runs: never what it computes. Nothing here enters a cache
/// key or a cell id, so one experiment file runs unchanged on a laptop and
/// on a cluster (whose defaults can live in `RUNNER_EXECUTOR__SLURM__*`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSection {
    /// `runner submit`'s SLURM settings.
    #[serde(default)]
    pub slurm: crate::slurm::SlurmSpec,
}

/// One concrete feature set.
#[derive(Debug)]
pub struct FeatureVariant {
    pub name: String,
    pub label: String,
    pub spec: FeatureSetSpec,
}

/// Whether a representation was declared under `[models]` or `[baselines]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Model,
    Baseline,
}

/// One concrete representation (model or baseline).
pub struct ReprVariant {
    pub name: String,
    pub label: String,
    pub group: Group,
    /// Feature sets it applies to; `None` means every compatible set.
    pub features: Option<Vec<String>>,
    pub swept: Vec<(String, toml::Value)>,
    pub repr: Box<dyn Representer>,
}

/// One concrete clusterer.
pub struct ClusterVariant {
    pub name: String,
    pub label: String,
    pub swept: Vec<(String, toml::Value)>,
    pub clusterer: Box<dyn Clusterer>,
}

/// The unit of work: a feature set, a representation, a clusterer and a seed.
#[derive(Clone)]
pub struct Cell {
    pub id: String,
    pub features: Arc<FeatureVariant>,
    pub repr: Arc<ReprVariant>,
    pub clusterer: Arc<ClusterVariant>,
    pub seed: u64,
}

/// How an experiment is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Expand a grid larger than `experiment.max_cells` (the command
    /// line's `--yes`). Commands that compute nothing (`report`) set it too.
    pub allow_large_grid: bool,
}

/// How many representations a run fits: one per (feature set,
/// representation, seed), or per (feature set, representation) for the
/// deterministic ones; every clusterer of a cell reuses its fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitCount {
    /// Seeded, trained fits (the VAE family and the autoencoder).
    pub trained: usize,
    /// Deterministic fits, shared by every seed (PCA, raw).
    pub deterministic: usize,
}

/// A loaded, validated and expanded experiment.
pub struct Experiment {
    pub file: PathBuf,
    pub experiment: ExperimentSection,
    pub dataset: DatasetSpec,
    pub feature_sets: Vec<Arc<FeatureVariant>>,
    pub representations: Vec<Arc<ReprVariant>>,
    pub clusterers: Vec<Arc<ClusterVariant>>,
    pub metrics: MetricsSection,
    pub report: ReportSection,
    pub executor: ExecutorSection,
    pub cells: Vec<Cell>,
    /// The configuration as resolved (file, then environment, then `--set`):
    /// what `runner submit` freezes for its tasks.
    pub resolved: toml::Value,
    /// Things that are allowed but probably not meant (printed by the CLI).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Experiment")
            .field("file", &self.file)
            .field("name", &self.experiment.name)
            .field(
                "cells",
                &self.cells.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Experiment {
    /// Loads `file`, applies `RUNNER_*` variables and `--set` overrides,
    /// validates every section and expands the grid.
    /// A grid larger than `experiment.max_cells` is an error here; see
    /// [`Experiment::load_with`].
    pub fn load(file: &Path, overrides: &[String]) -> Result<Experiment, SpecError> {
        Self::load_with(file, overrides, LoadOptions::default())
    }

    pub fn load_with(
        file: &Path,
        overrides: &[String],
        options: LoadOptions,
    ) -> Result<Experiment, SpecError> {
        let (sources, merged) = Sources::load(file, overrides)?;
        build(&sources, merged.clone(), options)
            .map(|exp| Experiment {
                resolved: merged,
                ..exp
            })
            .map_err(|e| sources.error(e))
    }

    /// The worker threads to use: `threads`, capped at the cores this
    /// process may run on (0 = all of them), and a warning when it was capped.
    pub fn worker_threads(&self) -> (usize, Option<String>) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cap_threads(self.experiment.threads, cores)
    }

    /// The distinct representation fits the cells need (before the cache).
    pub fn fits(&self) -> FitCount {
        let mut trained = std::collections::HashSet::new();
        let mut deterministic = std::collections::HashSet::new();
        for c in &self.cells {
            let pair = (c.features.label.as_str(), c.repr.label.as_str());
            if c.repr.repr.uses_seed() {
                trained.insert((pair, c.seed));
            } else {
                deterministic.insert(pair);
            }
        }
        FitCount {
            trained: trained.len(),
            deterministic: deterministic.len(),
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.experiment
            .cache_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".vaerun-cache"))
    }

    pub fn report_dir(&self) -> PathBuf {
        self.report.out_dir.join(&self.experiment.name)
    }
}

/// Deserialises `value` into `T`, reporting the exact key that failed
/// (relative to `path`) and suggesting the nearest key for a typo.
pub fn typed<T: DeserializeOwned>(value: toml::Value, path: &[String]) -> Result<T, KeyError> {
    // TOML can spell nan and inf; no parameter here means anything by them,
    // and NaN slips past every range check (all comparisons are false).
    if let Some((at, v)) = first_non_finite(&value) {
        return Err(KeyError::new(
            &error::join_path(path, &at),
            format!("expected a finite number, found {v}"),
        ));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut full = path.to_vec();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Map { key } => full.push(key.clone()),
                serde_path_to_error::Segment::Seq { index } => full.push(index.to_string()),
                serde_path_to_error::Segment::Enum { variant } => full.push(variant.clone()),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        // toml's Display appends "in `key`"; the path already says where.
        let message = e.inner().message().trim().to_string();
        // serde may report an unknown field at the map that holds it; name the field.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            if full.last().map(String::as_str) != Some(field) {
                full.push(field.to_string());
            }
        }
        KeyError {
            path: full,
            message: tidy_message(&message),
        }
    })
}

/// The path (below `value`) and value of the first NaN or infinity.
fn first_non_finite(value: &toml::Value) -> Option<(Vec<String>, f64)> {
    match value {
        toml::Value::Float(f) if !f.is_finite() => Some((Vec::new(), *f)),
        toml::Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            first_non_finite(v).map(|(mut p, f)| {
                p.insert(0, i.to_string());
                (p, f)
            })
        }),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            first_non_finite(v).map(|(mut p, f)| {
                p.insert(0, k.clone());
                (p, f)
            })
        }),
        _ => None,
    }
}

/// `threads` capped at `cores` (0 = all cores), with a warning when capped.
pub fn cap_threads(requested: usize, cores: usize) -> (usize, Option<String>) {
    match requested {
        0 => (cores, None),
        n if n <= cores => (n, None),
        n => (
            cores,
            Some(format!(
                "experiment.threads = {n} exceeds the {cores} core(s) available; using {cores}"
            )),
        ),
    }
}

/// Deserialises a section's table into its typed parameters (see [`typed`]).
pub fn typed_table<T: DeserializeOwned>(
    table: &toml::Table,
    path: &[String],
) -> Result<T, KeyError> {
    typed(toml::Value::Table(table.clone()), path)
}

/// serde says "invalid type: string \"x\", expected u64"; users read
/// "expected a non-negative integer, found string \"x\"".
fn tidy_message(m: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = m
            .strip_prefix(prefix)
            .and_then(|r| r.rsplit_once(", expected "))
        {
            return format!("expected {}, found {found}", plain_type(expected));
        }
    }
    suggest::rewrite_unknown_field(m)
}

fn plain_type(t: &str) -> String {
    match t {
        "u64" | "u32" | "usize" | "u16" | "u8" => "a non-negative integer".into(),
        "i64" | "i32" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_string(),
    }
}

/// The `kind` of a section, checked against the registry's kinds; a typo
/// gets the nearest known kind as a suggestion.
pub fn kind_of<'a>(
    table: &'a toml::Table,
    path: &[String],
    known: &[&str],
) -> Result<&'a str, KeyError> {
    let kind_path = error::join_path(path, &["kind".into()]);
    match table.get("kind") {
        Some(toml::Value::String(s)) if known.contains(&s.as_str()) => Ok(s.as_str()),
        Some(toml::Value::String(s)) => {
            let message = match suggest::nearest(s, known.iter().copied()) {
                Some(b) => format!("unknown kind `{s}`; did you mean `{b}`?"),
                None => format!("unknown kind `{s}`; known kinds: {}", known.join(", ")),
            };
            Err(KeyError::new(&kind_path, message))
        }
        Some(other) => Err(KeyError::new(
            &kind_path,
            format!("expected a string, found {}", grid::type_name(other)),
        )),
        None => Err(KeyError::new(
            &kind_path,
            format!("missing; one of {}", known.join(", ")),
        )),
    }
}

fn p(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn build(
    sources: &Sources,
    merged: toml::Value,
    options: LoadOptions,
) -> Result<Experiment, KeyError> {
    let raw: RawSpec = typed(merged, &[]).map_err(|mut e| {
        if let Some(field) = e
            .message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            e.message = format!("missing section [{field}]");
        }
        e
    })?;
    let _ = sources;
    check_experiment(&raw.experiment)?;
    check_report(&raw.report)?;
    let dataset = DatasetSpec::parse(&raw.dataset, &p(&["dataset"]))?;

    if raw.features.is_empty() {
        return Err(KeyError::at(
            &["features"],
            "declare at least one feature set, e.g. [features.mfcc]",
        ));
    }
    for (section, names) in [
        ("features", raw.features.keys()),
        ("models", raw.models.keys()),
        ("baselines", raw.baselines.keys()),
        ("clusterers", raw.clusterers.keys()),
    ] {
        for name in names {
            check_section_name(section, name)?;
        }
    }
    if !options.allow_large_grid {
        grid_size::check(&raw)?;
    }
    // DSP parameters are checked against the rate the audio is decoded at;
    // a precomputed dataset has no audio, and ignores them.
    let sample_rate = match &dataset {
        DatasetSpec::Precomputed(_) => None,
        d => Some(d.decode_params().sample_rate),
    };
    let mut feature_sets = Vec::new();
    for (name, table) in &raw.features {
        let path = p(&["features", name]);
        for v in grid::expand(table, &path)? {
            let spec = FeatureSetSpec::parse(&v.table, &path)?;
            // A segmented set says so in its cell ids, swept or not.
            let label = match spec.segment {
                Some(seg) if !v.swept.iter().any(|(k, _)| k == "segment") => format!(
                    "{}@{}s{}",
                    v.label(name),
                    seg.seconds,
                    seg.hop.map(|h| format!("/{h}s")).unwrap_or_default()
                ),
                _ => v.label(name),
            };
            if let Some(sr) = sample_rate {
                spec.check_sample_rate(sr, &path)?;
            }
            feature_sets.push(Arc::new(FeatureVariant {
                name: name.clone(),
                label,
                spec,
            }));
        }
    }

    if raw.models.is_empty() && raw.baselines.is_empty() {
        return Err(KeyError::at(
            &["models"],
            "declare at least one model or baseline, e.g. [models.vae]",
        ));
    }
    let mut representations = Vec::new();
    for (group, section, entries) in [
        (Group::Model, "models", &raw.models),
        (Group::Baseline, "baselines", &raw.baselines),
    ] {
        for (name, table) in entries {
            let path = p(&[section, name]);
            if representations
                .iter()
                .any(|r: &Arc<ReprVariant>| &r.name == name)
            {
                return Err(KeyError::new(
                    &path,
                    "this name is used in both [models] and [baselines]",
                ));
            }
            let mut table = table.clone();
            let features = take_feature_selector(&mut table, &path, &raw.features)?;
            for v in grid::expand(&table, &path)? {
                let repr = models::parse(group, &v.table, &path)?;
                representations.push(Arc::new(ReprVariant {
                    name: name.clone(),
                    label: v.label(name),
                    group,
                    features: features.clone(),
                    swept: v.swept,
                    repr,
                }));
            }
        }
    }

    if raw.clusterers.is_empty() {
        return Err(KeyError::at(
            &["clusterers"],
            "declare at least one clusterer, e.g. [clusterers.kmeans]",
        ));
    }
    let mut clusterers = Vec::new();
    for (name, table) in &raw.clusterers {
        let path = p(&["clusterers", name]);
        for v in grid::expand(table, &path)? {
            let clusterer = cluster::parse(&v.table, &path)?;
            clusterers.push(Arc::new(ClusterVariant {
                name: name.clone(),
                label: v.label(name),
                swept: v.swept,
                clusterer,
            }));
        }
    }

    if raw.metrics.include.is_empty() {
        return Err(KeyError::at(
            &["metrics", "include"],
            "list at least one metric (or leave `include` out for all of them)",
        ));
    }
    if let Some(i) = first_repeat(&raw.metrics.include) {
        return Err(KeyError::at(
            &["metrics", "include", &i.to_string()],
            format!("`{}` is listed twice", raw.metrics.include[i]),
        ));
    }
    raw.executor
        .slurm
        .check()
        .map_err(|(key, message)| KeyError::at(&["executor", "slurm", key], message))?;
    for (i, m) in raw.metrics.include.iter().enumerate() {
        if !cluster::metrics::ALL_METRICS.contains(&m.as_str()) {
            let hint = suggest::nearest(m, cluster::metrics::ALL_METRICS.iter().copied())
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_else(|| {
                    format!("; known: {}", cluster::metrics::ALL_METRICS.join(", "))
                });
            return Err(KeyError::at(
                &["metrics", "include", &i.to_string()],
                format!("unknown metric `{m}`{hint}"),
            ));
        }
    }
    if let Some(s) = &raw.report.sort_by {
        if !cluster::metrics::ALL_METRICS.contains(&s.as_str()) {
            return Err(KeyError::at(
                &["report", "sort_by"],
                format!("unknown metric `{s}`"),
            ));
        }
        if !raw.metrics.include.contains(s) {
            return Err(KeyError::at(
                &["report", "sort_by"],
                format!("`{s}` is not computed: add it to metrics.include"),
            ));
        }
    }

    let mut cells = Vec::new();
    for f in &feature_sets {
        for r in &representations {
            if r.features
                .as_ref()
                .is_some_and(|names| !names.contains(&f.name))
            {
                continue;
            }
            if !r
                .repr
                .accepts(f.spec.audio_shape(), f.spec.lyrics.is_some())
            {
                // Chosen by name but unusable: say so rather than drop it.
                if r.features.is_some() {
                    let group = match r.group {
                        Group::Model => "models",
                        Group::Baseline => "baselines",
                    };
                    return Err(KeyError::at(
                        &[group, &r.name, "features"],
                        format!(
                            "`{}` cannot take feature set `{}` ({}); {}",
                            r.repr.kind(),
                            f.name,
                            describe_set(&f.spec),
                            r.repr.needs()
                        ),
                    ));
                }
                continue;
            }
            for c in &clusterers {
                for &seed in &raw.experiment.seeds {
                    cells.push(Cell {
                        id: format!("{}/{}/{}/seed={seed}", f.label, r.label, c.label),
                        features: f.clone(),
                        repr: r.clone(),
                        clusterer: c.clone(),
                        seed,
                    });
                }
            }
        }
    }
    if cells.is_empty() {
        return Err(KeyError::at(
            &["models"],
            "no representation accepts any declared feature set",
        ));
    }
    // Ids name results, cache entries and `--cell`: two cells with one id
    // would overwrite each other's results.
    let mut ids = std::collections::HashSet::with_capacity(cells.len());
    if let Some(dup) = cells.iter().find(|c| !ids.insert(c.id.as_str())) {
        return Err(KeyError::at(
            &["experiment"],
            format!("two cells have the id `{}`; rename a section", dup.id),
        ));
    }
    let warnings = cap_threads(
        raw.experiment.threads,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )
    .1
    .into_iter()
    .collect();
    check_report_names(&raw.report, &clusterers, &cells)?;

    Ok(Experiment {
        file: sources.file.clone(),
        experiment: raw.experiment,
        dataset,
        feature_sets,
        representations,
        clusterers,
        metrics: raw.metrics,
        report: raw.report,
        executor: raw.executor,
        cells,
        warnings,
        resolved: toml::Value::Table(Default::default()),
    })
}

/// `[experiment]`: what serde cannot check.
fn check_experiment(e: &ExperimentSection) -> Result<(), KeyError> {
    if e.seeds.is_empty() {
        return Err(KeyError::at(
            &["experiment", "seeds"],
            "give at least one seed",
        ));
    }
    // A repeated seed repeats its cells under the same id, and counts one
    // run twice in every mean ± std.
    let mut seen = std::collections::HashMap::new();
    for (i, s) in e.seeds.iter().enumerate() {
        if let Some(first) = seen.insert(*s, i) {
            return Err(KeyError::at(
                &["experiment", "seeds"],
                format!("seed {s} is listed twice (entries {first} and {i}); seeds must differ"),
            ));
        }
    }
    let name = &e.name;
    if name.trim().is_empty()
        || name.contains(['/', '\\'])
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(KeyError::at(
            &["experiment", "name"],
            "must be a plain folder name (no slashes or control characters, not starting with a dot)",
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(KeyError::at(
            &["experiment", "name"],
            format!(
                "is {} bytes long; a folder name may have at most {MAX_NAME_BYTES}",
                name.len()
            ),
        ));
    }
    crate::models::device::parse_device(&e.device)
        .map_err(|m| KeyError::at(&["experiment", "device"], m))?;
    check_path(&["experiment", "cache_dir"], e.cache_dir.as_deref())?;
    if e.max_cells == 0 {
        return Err(KeyError::at(
            &["experiment", "max_cells"],
            "must be at least 1",
        ));
    }
    Ok(())
}

/// `[report]`: paths and projection settings.
fn check_report(r: &ReportSection) -> Result<(), KeyError> {
    check_path(&["report", "out_dir"], Some(r.out_dir.as_path()))?;
    check_path(&["report", "templates"], r.templates.as_deref())?;
    r.projection
        .validate()
        .map_err(|(key, m)| KeyError::at(&["report", "projection", key], m))
}

/// An empty path would silently mean the working directory.
pub fn check_path(key: &[&str], path: Option<&Path>) -> Result<(), KeyError> {
    match path {
        Some(p) if p.as_os_str().is_empty() => Err(KeyError::at(
            key,
            "is empty; give a folder (an empty path would mean the working directory)",
        )),
        Some(p) if p.to_string_lossy().contains('\0') => {
            Err(KeyError::at(key, "contains a NUL character"))
        }
        _ => Ok(()),
    }
}

/// Section names become parts of cell ids (`features/model[k=v]/clusterer/seed=N`),
/// so the characters that structure an id are not allowed in them.
fn check_section_name(section: &str, name: &str) -> Result<(), KeyError> {
    let bad = name
        .chars()
        .find(|c| matches!(c, '/' | '[' | ']' | ',' | '=') || c.is_whitespace() || c.is_control());
    if name.is_empty() || bad.is_some() {
        return Err(KeyError::at(
            &[section, name],
            format!(
                "`{}` cannot name a section: names are parts of cell ids, so they may not be \
                 empty or hold spaces or any of / [ ] , =",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// `report.projection_clusterer` names a clusterer, and every
/// `report.listen_cells` entry a cell, of this experiment.
fn check_report_names(
    report: &ReportSection,
    clusterers: &[Arc<ClusterVariant>],
    cells: &[Cell],
) -> Result<(), KeyError> {
    if let Some(name) = &report.projection_clusterer {
        let known = || {
            clusterers
                .iter()
                .flat_map(|c| [c.name.as_str(), c.label.as_str()])
        };
        if !known().any(|k| k == name) {
            let hint = suggest::nearest(name, known())
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(KeyError::at(
                &["report", "projection_clusterer"],
                format!("no clusterer `{name}` in [clusterers]{hint}"),
            ));
        }
    }
    for (i, id) in report.listen_cells.iter().enumerate() {
        if !cells.iter().any(|c| &c.id == id) {
            let hint = suggest::nearest(id, cells.iter().map(|c| c.id.as_str()))
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(KeyError::at(
                &["report", "listen_cells", &i.to_string()],
                format!("no cell `{id}` in this experiment (`runner plan` lists them){hint}"),
            ));
        }
    }
    Ok(())
}

/// The index of the first element that repeats an earlier one.
pub fn first_repeat<T: PartialEq>(items: &[T]) -> Option<usize> {
    (1..items.len()).find(|&i| items[..i].contains(&items[i]))
}

/// What a feature set holds, in words, for error messages.
fn describe_set(spec: &crate::dsp::FeatureSetSpec) -> String {
    let audio = match spec.audio_shape() {
        Some(crate::dsp::FeatureShape::Summary { .. }) => Some("audio summaries"),
        Some(crate::dsp::FeatureShape::Sequence { .. }) => Some("audio sequences"),
        None => None,
    };
    match (audio, spec.lyrics.is_some()) {
        (Some(a), true) => format!("{a} + lyrics"),
        (Some(a), false) => a.to_string(),
        (None, _) => "lyrics only".into(),
    }
}

/// Removes the generic `features = "name"` / `["a", "b"]` key from a
/// representation's table and checks the names.
fn take_feature_selector(
    table: &mut toml::Table,
    path: &[String],
    declared: &BTreeMap<String, toml::Table>,
) -> Result<Option<Vec<String>>, KeyError> {
    let Some(value) = table.remove("features") else {
        return Ok(None);
    };
    let kpath = error::join_path(path, &["features".to_string()]);
    let names: Vec<String> = match value {
        toml::Value::String(s) => vec![s],
        toml::Value::Array(a) => a
            .into_iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                KeyError::new(&kpath, "expected a feature-set name or a list of names")
            })?,
        other => {
            return Err(KeyError::new(
                &kpath,
                format!(
                    "expected a feature-set name or a list of names, found {}",
                    grid::type_name(&other)
                ),
            ))
        }
    };
    if names.is_empty() {
        return Err(KeyError::new(
            &kpath,
            "lists no feature set; name one, or leave `features` out for every compatible one",
        ));
    }
    if let Some(i) = first_repeat(&names) {
        return Err(KeyError::new(
            &kpath,
            format!("`{}` is listed twice", names[i]),
        ));
    }
    for n in &names {
        if !declared.contains_key(n) {
            let hint = suggest::nearest(n, declared.keys().map(String::as_str))
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(KeyError::new(
                &kpath,
                format!("no feature set named `{n}` in [features]{hint}"),
            ));
        }
    }
    Ok(Some(names))
}
