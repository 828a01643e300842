//! The subcommands' work, behind the argument parsing in `main.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::pipeline::{self, RunOptions};
use crate::report;
use crate::spec::{Experiment, LoadOptions, SpecError};

/// Exit codes (documented in `runner --help`).
pub mod exit {
    /// Every cell succeeded.
    pub const OK: i32 = 0;
    /// The run finished but some cells failed (listed on stderr and in the report).
    pub const CELLS_FAILED: i32 = 1;
    /// The experiment file or the command line is invalid.
    pub const BAD_SPEC: i32 = 2;
    /// The run could not proceed (missing dataset, I/O error, ...).
    pub const RUNTIME: i32 = 3;
}

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl From<SpecError> for Failure {
    fn from(e: SpecError) -> Self {
        Failure {
            code: exit::BAD_SPEC,
            error: e.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure {
            code: exit::RUNTIME,
            error: e,
        }
    }
}

/// The experiment a command works on, as every command that expands one
/// takes it: the file, `--set` overrides, and `--yes` for grids larger than
/// `experiment.max_cells`. Flattened into each subcommand's arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// The experiment file (`-` or /dev/stdin reads it from standard input).
    pub experiment: PathBuf,
    /// Override a key, e.g. --set models.vae.epochs=10 (repeatable; values are TOML).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Go ahead with a grid of more cells than experiment.max_cells (default 10000).
    #[arg(long)]
    pub yes: bool,
}

impl ExperimentArgs {
    /// Loads the experiment and prints its warnings on stderr.
    pub fn load(&self) -> Result<Experiment, Failure> {
        let file = stdin_alias(&self.experiment);
        let exp = Experiment::load_with(
            &file,
            &self.set,
            LoadOptions {
                allow_large_grid: self.yes,
            },
        )?;
        for w in &exp.warnings {
            eprintln!("warning: {w}");
        }
        Ok(exp)
    }
}

/// `-` names standard input, as most tools have it.
fn stdin_alias(p: &Path) -> PathBuf {
    if p.as_os_str() == "-" {
        PathBuf::from("/dev/stdin")
    } else {
        p.to_path_buf()
    }
}

/// Loads an experiment that a command only reads (no computing): the
/// grid-size limit does not apply.
pub fn load(file: &Path, set: &[String]) -> Result<Experiment, Failure> {
    Ok(Experiment::load_with(
        &stdin_alias(file),
        set,
        LoadOptions {
            allow_large_grid: true,
        },
    )?)
}

/// "3 cells from 2 representation fits (1 trained, 1 deterministic)".
fn describe_work(exp: &Experiment) -> String {
    let fits = exp.fits();
    format!(
        "{} cells from {} representation fit(s) ({} trained model(s), {} deterministic)",
        exp.cells.len(),
        fits.trained + fits.deterministic,
        fits.trained,
        fits.deterministic
    )
}

/// The report templates a run will render with, read and parsed now: a
/// missing or broken one is a mistake in `report.templates` (exit 2), found
/// before anything is computed rather than after.
fn check_templates(exp: &Experiment) -> Result<(), Failure> {
    if let Some(dir) = &exp.report.templates {
        report::render::load_templates(Some(dir)).map_err(|e| Failure {
            code: exit::BAD_SPEC,
            error: anyhow::anyhow!("{}: report.templates: {e:#}", exp.file.display()),
        })?;
    }
    Ok(())
}

pub fn validate(args: &ExperimentArgs) -> Result<i32, Failure> {
    let exp = args.load()?;
    check_templates(&exp)?;
    println!(
        "{}: ok — experiment `{}`: {} feature set(s), {} representation(s), {} clusterer(s), {} seed(s) → {}",
        args.experiment.display(),
        exp.experiment.name,
        exp.feature_sets.len(),
        exp.representations.len(),
        exp.clusterers.len(),
        exp.experiment.seeds.len(),
        describe_work(&exp)
    );
    Ok(exit::OK)
}

pub fn plan(args: &ExperimentArgs, explain: Option<&str>, units: bool) -> Result<i32, Failure> {
    let exp = args.load()?;
    if let Some(id) = explain {
        for line in pipeline::explain(&exp, id).map_err(selection_failure)? {
            println!("{line}");
        }
        return Ok(exit::OK);
    }
    if units {
        let ws = pipeline::Workspace::open(&exp)?;
        let all: Vec<usize> = (0..exp.cells.len()).collect();
        let g = ws.graph(&exp, &all)?;
        let width = g.units.iter().map(|u| u.id.len()).max().unwrap_or(4).max(4);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:width$}  {:>5}  state", "unit", "cells").ok();
        let mut todo = 0;
        for (u, unit) in g.units.iter().enumerate() {
            let cached = g.unit_cached(&ws.store, u);
            todo += usize::from(!cached);
            writeln!(
                out,
                "{:width$}  {:>5}  {}",
                unit.id,
                unit.cells.len(),
                if cached { "cached" } else { "to compute" }
            )
            .ok();
        }
        writeln!(out, "{} units, {todo} to compute", g.units.len()).ok();
        return Ok(exit::OK);
    }
    let cells = pipeline::plan(&exp)?;
    let mark = |b: bool| if b { "cached" } else { "run" };
    let width = cells.iter().map(|c| c.id.len()).max().unwrap_or(4).max(4);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:width$}  {:>9}  {:>9}  {:>7}  {:>6}",
        "cell", "features", "represent", "cluster", "score"
    )
    .ok();
    let mut todo = 0;
    for c in &cells {
        let f = format!("{}/{}", c.features_cached.0, c.features_cached.1);
        writeln!(
            out,
            "{:width$}  {:>9}  {:>9}  {:>7}  {:>6}",
            c.id,
            f,
            mark(c.represent),
            mark(c.cluster),
            mark(c.score)
        )
        .ok();
        todo += usize::from(!c.fully_cached());
    }
    writeln!(
        out,
        "{} cells, {} fully cached, {} to compute (cache: {})",
        cells.len(),
        cells.len() - todo,
        todo,
        exp.cache_dir().display()
    )
    .ok();
    Ok(exit::OK)
}

/// What `runner run` is asked to do beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub quiet: bool,
    pub select: pipeline::Selection,
    /// Only extract per-track features (of shard i of n).
    pub features_only: Option<(usize, usize)>,
    /// Compute nothing expensive (a report job).
    pub from_cache: bool,
    /// Also write the run's results record here (a cluster task's outcome).
    pub record: Option<std::path::PathBuf>,
    /// Why units are missing, by unit id (a report job reads them from its
    /// submission's task records).
    pub unit_errors: std::collections::BTreeMap<String, String>,
}

pub fn run(experiment: &ExperimentArgs, args: RunArgs) -> Result<i32, Failure> {
    let exp = experiment.load()?;
    if exp.experiment.threads > 0 {
        // Capped at the cores (the warning was printed at load). Only the
        // first call can size the global pool; later ones are no-ops.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(exp.worker_threads().0)
            .build_global();
    }
    if let Some(shard) = args.features_only {
        let done = pipeline::extract(&exp, shard, args.quiet).map_err(selection_failure)?;
        if !args.quiet {
            eprintln!(
                "features (shard {}/{}): {} tracks, {} computed, {} unusable",
                shard.0, shard.1, done.tracks, done.computed, done.failed
            );
        }
        return Ok(exit::OK);
    }
    let single = args.select != pipeline::Selection::All;
    if !single {
        // What would otherwise fail only after the computing: the templates,
        // and a report folder that cannot be created (out_dir is a file).
        check_templates(&exp)?;
        let dir = exp.report_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the report folder {}", dir.display()))?;
    }
    if !args.quiet {
        let what = match &args.select {
            pipeline::Selection::All => describe_work(&exp),
            pipeline::Selection::Cell(_) => "1 cell".to_string(),
            pipeline::Selection::Unit(u) => format!("the cells of unit {u}"),
        };
        eprintln!(
            "{}: {what}; {} worker thread(s); cache {}",
            exp.experiment.name,
            exp.worker_threads().0,
            exp.cache_dir().display()
        );
    }
    let outcome = pipeline::run(
        &exp,
        &RunOptions {
            quiet: args.quiet,
            select: args.select.clone(),
            from_cache: args.from_cache,
            unit_errors: args.unit_errors.clone(),
        },
    )
    .map_err(selection_failure)?;
    let rec = &outcome.record;
    if let Some(path) = &args.record {
        crate::cache::write_atomic(
            path,
            &serde_json::to_vec_pretty(rec).map_err(anyhow::Error::from)?,
        )?;
    }
    if single {
        println!(
            "{}",
            serde_json::to_string_pretty(&rec.cells).map_err(anyhow::Error::from)?
        );
    } else {
        let dir = exp.report_dir();
        report::write_all(rec, &dir, exp.report.templates.as_deref())?;
        if !args.quiet {
            eprintln!("report: {}", dir.join("report.html").display());
        }
    }
    Ok(summarize(rec, args.quiet))
}

/// Prints the run's summary line and its failed cells; the exit code.
pub fn summarize(rec: &report::results::RunRecord, quiet: bool) -> i32 {
    let failed: Vec<_> = rec.failed().collect();
    if !quiet || !failed.is_empty() {
        let computed: u64 = rec.cache.values().map(|c| c.misses).sum();
        let hits: u64 = rec.cache.values().map(|c| c.hits).sum();
        let cache_line = if computed == 0 {
            format!(
                "every stage came from the cache (computing them took {:.1} s)",
                rec.compute_seconds
            )
        } else {
            let parts: Vec<String> = rec
                .cache
                .iter()
                .map(|(s, c)| format!("{s} {}/{}", c.misses, c.hits + c.misses))
                .collect();
            format!("computed {computed}, cached {hits} ({})", parts.join(", "))
        };
        eprintln!(
            "{} cells: {} ok, {} failed; {cache_line}; {:.1} s",
            rec.cells.len(),
            rec.cells.len() - failed.len(),
            failed.len(),
            rec.wall_seconds
        );
    }
    for f in &failed {
        eprintln!(
            "FAILED {}: {}",
            f.cell,
            f.error.as_deref().unwrap_or("unknown error")
        );
    }
    if failed.is_empty() {
        exit::OK
    } else {
        exit::CELLS_FAILED
    }
}

/// A cell or unit id that names nothing is a command-line error (exit 2);
/// anything else stops the run (exit 3).
fn selection_failure(e: anyhow::Error) -> Failure {
    let code = if e.downcast_ref::<pipeline::UnknownSelection>().is_some() {
        exit::BAD_SPEC
    } else {
        exit::RUNTIME
    };
    Failure { code, error: e }
}

/// `runner submit`: the study as SLURM job arrays.
pub fn submit(
    experiment: &ExperimentArgs,
    opts: &crate::slurm::SubmitOptions,
) -> Result<i32, Failure> {
    let exp = experiment.load()?;
    Ok(crate::slurm::submit(&exp, opts)?)
}

/// `runner status`: what is cached, queued, running or failed.
pub fn status(file: &Path, set: &[String]) -> Result<i32, Failure> {
    let exp = load(file, set)?;
    print!("{}", crate::slurm::status(&exp)?);
    Ok(exit::OK)
}

pub fn synth(file: Option<&Path>, set: &[String], out: &Path) -> Result<i32, Failure> {
    let spec = match file {
        Some(f) => match load(f, set)?.dataset {
            crate::data::DatasetSpec::Synthetic(s) => s,
            _ => {
                return Err(Failure {
                    code: exit::BAD_SPEC,
                    error: anyhow::anyhow!(
                        "{}: [dataset] is not kind = \"synthetic\"",
                        f.display()
                    ),
                })
            }
        },
        None => {
            let mut table: toml::Table = "kind = \"synthetic\"".parse().unwrap();
            add_sets(&mut table, set)?;
            match crate::data::DatasetSpec::parse(&table, &["dataset".into()]) {
                Ok(crate::data::DatasetSpec::Synthetic(s)) => s,
                Ok(_) => {
                    return Err(Failure {
                        code: exit::BAD_SPEC,
                        error: anyhow::anyhow!(
                            "--set kind: synth writes the synthetic corpus only"
                        ),
                    })
                }
                Err(e) => {
                    return Err(Failure {
                        code: exit::BAD_SPEC,
                        error: anyhow::anyhow!("--set {}: {}", e.path.join("."), e.message),
                    })
                }
            }
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let n = crate::data::synthetic::write_corpus(&spec, out)?;
    println!(
        "wrote {n} clips ({} classes x {}) to {}",
        spec.classes,
        spec.clips_per_class,
        out.display()
    );
    Ok(exit::OK)
}

/// Adds `--set KEY=VALUE` pairs (TOML values) to a flat table.
fn add_sets(table: &mut toml::Table, set: &[String]) -> Result<(), Failure> {
    for raw in set {
        let (k, v) = raw.split_once('=').ok_or_else(|| Failure {
            code: exit::BAD_SPEC,
            error: anyhow::anyhow!("--set {raw}: expected KEY=VALUE, e.g. --set n_mfcc=40"),
        })?;
        table.insert(
            k.trim().to_string(),
            crate::spec::source::parse_override_value(v),
        );
    }
    Ok(())
}

/// `runner score`: metrics of any embedding and labelling, in the golden
/// `metrics.json` key names.
pub fn score(
    features: &Path,
    pred: &Path,
    truth: Option<&Path>,
    out: Option<&Path>,
    seed: u64,
) -> Result<i32, Failure> {
    use crate::cluster::{io, metrics};
    let x = io::read_matrix(features)?;
    let p = io::parse_pred(&io::read_labels(pred)?, pred)?;
    if p.len() != x.nrows() {
        return Err(anyhow::anyhow!(
            "{} has {} labels but {} has {} rows",
            pred.display(),
            p.len(),
            features.display(),
            x.nrows()
        )
        .into());
    }
    let t = match truth {
        Some(path) => {
            let t = io::read_labels(path)?;
            if t.len() != x.nrows() {
                return Err(anyhow::anyhow!(
                    "{} has {} labels but {} has {} rows",
                    path.display(),
                    t.len(),
                    features.display(),
                    x.nrows()
                )
                .into());
            }
            Some(metrics::encode(&t).0)
        }
        None => None,
    };
    let card = metrics::scorecard(
        x.view(),
        &p,
        t.as_deref(),
        &metrics::default_metric_names(),
        seed,
    );
    let flat = |m: &std::collections::BTreeMap<String, metrics::Score>| -> serde_json::Value {
        let mut o = serde_json::Map::new();
        let mut undefined = serde_json::Map::new();
        for (k, s) in m {
            o.insert(
                k.clone(),
                s.value
                    .map_or(serde_json::Value::Null, |v| serde_json::json!(v)),
            );
            if let Some(r) = &s.reason {
                undefined.insert(k.clone(), serde_json::json!(r));
            }
        }
        if !undefined.is_empty() {
            o.insert("undefined".into(), serde_json::Value::Object(undefined));
        }
        serde_json::Value::Object(o)
    };
    let mut doc = flat(&card.metrics);
    let (_, k) = metrics::encode(&p);
    doc["n_samples"] = serde_json::json!(x.nrows());
    doc["n_clusters_pred"] = serde_json::json!(k);
    doc["noise_fraction"] =
        serde_json::json!(p.iter().filter(|&&l| l == -1).count() as f64 / p.len() as f64);
    doc["convention"] = serde_json::json!(
        "scikit-learn: label -1 is scored as an ordinary cluster; see noise_excluded"
    );
    if let Some(ne) = &card.noise_excluded {
        doc["noise_excluded"] = flat(ne);
    }
    if let Some(c) = &card.control {
        doc["shuffled_label_control"] = flat(c);
    }
    let text = serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?;
    match out {
        Some(path) => {
            crate::cache::write_atomic(path, format!("{text}\n").as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(exit::OK)
}

/// `runner features`: one file's full feature matrix, in the layout of a
/// golden feature entry (`shape`, `data`, `mean`, `std`) or as `.npy`.
pub fn features(
    audio: &Path,
    feature: &str,
    set: &[String],
    sample_rate: u32,
    out: &Path,
) -> Result<i32, Failure> {
    let mut table = toml::Table::new();
    table.insert(
        "features".into(),
        toml::Value::Array(vec![toml::Value::String(feature.into())]),
    );
    add_sets(&mut table, set)?;
    let spec = crate::dsp::FeatureSetSpec::parse(&table, &[]).map_err(|e| Failure {
        code: exit::BAD_SPEC,
        error: anyhow::anyhow!(
            "{}: {}",
            if e.path.is_empty() {
                "--feature".into()
            } else {
                e.dotted()
            },
            e.message
        ),
    })?;
    if !(1000..=384_000).contains(&sample_rate) {
        return Err(Failure {
            code: exit::BAD_SPEC,
            error: anyhow::anyhow!(
                "--sr {sample_rate}: expected a sample rate between 1000 and 384000 Hz"
            ),
        });
    }
    spec.check_sample_rate(sample_rate, &[])
        .map_err(|e| Failure {
            code: exit::BAD_SPEC,
            error: anyhow::anyhow!("{}: {}", e.dotted(), e.message),
        })?;
    let params = crate::data::DecodeParams {
        sample_rate,
        offset: 0.0,
        duration: None,
    };
    let decoded = crate::audio::decode_file(audio, &params)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", audio.display()))?;
    let m = crate::dsp::Extractor::new(&spec, sample_rate)
        .matrix(&decoded.samples)
        .map_err(|e| anyhow::anyhow!("{}: {e}", audio.display()))?;
    if out.extension().is_some_and(|e| e == "npy") {
        use ndarray_npy::WriteNpyExt;
        let a = ndarray::Array2::from_shape_vec((m.rows, m.frames), m.data)
            .map_err(anyhow::Error::from)?;
        let mut bytes = Vec::new();
        a.write_npy(&mut bytes).map_err(anyhow::Error::from)?;
        crate::cache::write_atomic(out, &bytes)?;
    } else {
        let rows: Vec<&[f32]> = m.data.chunks(m.frames).collect();
        let stat = |s| {
            rows.iter()
                .map(|r| crate::dsp::row_stat(r, s))
                .collect::<Vec<f64>>()
        };
        let doc = serde_json::json!({
            "file": audio.display().to_string(),
            "feature": feature,
            "sample_rate": sample_rate,
            "params": spec,
            "shape": [m.rows, m.frames],
            "rows": spec.row_names(),
            "data": rows,
            "mean": stat(crate::dsp::Stat::Mean),
            "std": stat(crate::dsp::Stat::Std),
        });
        crate::cache::write_atomic(
            out,
            serde_json::to_string(&doc)
                .map_err(anyhow::Error::from)?
                .as_bytes(),
        )?;
    }
    eprintln!(
        "{}: {feature} {} x {} -> {}",
        audio.display(),
        m.rows,
        m.frames,
        out.display()
    );
    Ok(exit::OK)
}

/// `runner report EXP.toml | reports/NAME`: re-renders the tables and
/// documents from the stored `results.json`, computing nothing.
pub fn report(target: &Path, set: &[String]) -> Result<i32, Failure> {
    let (dir, templates, options) = if target.is_dir() {
        (target.to_path_buf(), None, None)
    } else {
        let exp = load(target, set)?;
        let options = report::results::ReportOptions::from(&exp.report);
        (
            exp.report_dir(),
            exp.report.templates.clone(),
            Some(options),
        )
    };
    let mut rec = report::load(&dir)?;
    if let Some(w) = report::newer_version_warning(&rec) {
        eprintln!("warning: {w}");
        rec.warnings.insert(0, w);
    }
    // The experiment file's current [report] choices (which clusterer colours
    // the maps, which cells are listed) replace the recorded ones.
    if let Some(options) = options {
        rec.report = options;
    }
    report::render_from(&rec, &dir, templates.as_deref())?;
    eprintln!(
        "re-rendered {} ({} cells) from results.json",
        dir.display(),
        rec.cells.len()
    );
    Ok(exit::OK)
}

/// What `runner diff` compares and how it reports.
pub struct DiffArgs<'a> {
    pub rev_a: Option<&'a str>,
    pub rev_b: Option<&'a str>,
    pub experiment: Option<&'a str>,
    pub format: &'a str,
    /// Exit 1 when anything differs (beyond `tolerance`).
    pub check: bool,
    pub tolerance: f64,
}

/// `runner diff [REV_A] [REV_B]`: committed results compared per
/// configuration and cell by cell.
pub fn diff(args: &DiffArgs) -> Result<i32, Failure> {
    use crate::report::diff;
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        return Err(Failure {
            code: exit::BAD_SPEC,
            error: anyhow::anyhow!("--tolerance must be a non-negative number"),
        });
    }
    let root = diff::repo_root(Path::new("."))?;
    let a = args.rev_a.unwrap_or("HEAD");
    diff::verify(&root, a)?;
    if let Some(b) = args.rev_b {
        diff::verify(&root, b)?;
    }
    let old = diff::load_all(&root, Some(a), args.experiment)?;
    let new = diff::load_all(&root, args.rev_b, args.experiment)?;
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    if let Some(e) = args.experiment {
        if names.is_empty() {
            return Err(anyhow::anyhow!(
                "no results for experiment `{e}` at {a} or {}",
                args.rev_b.unwrap_or("the working tree")
            )
            .into());
        }
    }
    let diffs: Vec<diff::ExperimentDiff> = names
        .iter()
        .map(|n| diff::diff(n, old.get(*n), new.get(*n), args.tolerance))
        .collect();
    let b = args.rev_b.unwrap_or("working tree");
    let text = match args.format {
        "md" => diff::markdown(&diffs, a, b),
        "json" => serde_json::to_string_pretty(&diffs).map_err(anyhow::Error::from)? + "\n",
        _ => diff::table(&diffs),
    };
    print!("{text}");
    let count: usize = diffs.iter().map(diff::ExperimentDiff::count).sum();
    if args.check && count > 0 {
        eprintln!(
            "diff --check: {count} difference(s) between {a} and {b} (tolerance {}); \
             commit the regenerated reports if the change is intended",
            args.tolerance
        );
        return Ok(exit::CELLS_FAILED);
    }
    Ok(exit::OK)
}

/// `runner sample EXP --cell ID`: decodes draws from a trained model's
/// prior into feature matrices, images and (for mel spectrograms) audio.
pub fn sample(
    file: &Path,
    set: &[String],
    cell: &str,
    n: usize,
    condition: Option<&str>,
    seed: u64,
    out: &Path,
) -> Result<i32, Failure> {
    use crate::sample::{SampleError, SampleOptions};
    let exp = load(file, set)?;
    let written = crate::sample::sample(
        &exp,
        &SampleOptions {
            cell,
            n,
            condition,
            seed,
            out,
        },
    )
    .map_err(|e| match e {
        SampleError::Invalid(error) => Failure {
            code: exit::BAD_SPEC,
            error,
        },
        SampleError::Unavailable(error) => Failure {
            code: exit::RUNTIME,
            error,
        },
    })?;
    eprintln!(
        "wrote {n} samples of {cell} to {} ({} files{}{})",
        out.display(),
        written.files.len(),
        if written.audio { ", with audio" } else { "" },
        if written.units == "standardised" {
            "; values in standardised units: the artifact kept no scaling"
        } else {
            ""
        }
    );
    Ok(exit::OK)
}

/// `runner schema`: the experiment file's JSON Schema, for editors.
pub fn schema() -> Result<i32, Failure> {
    let doc = crate::spec::schema::experiment_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?
    );
    Ok(exit::OK)
}
