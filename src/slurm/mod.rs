//! `runner submit` and `runner status`: a study on a SLURM cluster, as job
//! arrays over the shared content cache.
//!
//! A submission reads the same stage graph as `run` and `plan`, and submits
//! only what is not cached: a features job (an array over track shards),
//! then one array task per unit (a representation with its projection and
//! every clusterer on it), then a report job that runs after any outcome.
//! Every task is `runner run` on the experiment as it was resolved at
//! submit time (file + environment + `--set`), frozen into the submission
//! folder, so editing the TOML while jobs wait changes nothing. Because the
//! cache is content-addressed, submitting again after failures, timeouts
//! or preemption submits only what is still missing.

mod script;
pub mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::pipeline::{graph::TrackState, Workspace};
use crate::spec::Experiment;
use script::{Job, Paths};
pub use spec::SlurmSpec;

#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Wait for the report job and exit with `run`'s exit code.
    pub wait: bool,
    /// Print the scripts without submitting.
    pub dry_run: bool,
    /// Seconds between polls while waiting.
    pub poll: f64,
}

/// What a submission folder records (`submission.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Submission {
    pub experiment: String,
    /// The experiment file it was submitted from.
    pub source: String,
    pub created: String,
    /// Unit ids, in array-index order.
    pub units: Vec<String>,
    pub feature_shards: usize,
    /// Units per array task: unit `i` runs in task `i / units_per_task`.
    #[serde(default = "one")]
    pub units_per_task: usize,
    pub jobs: BTreeMap<String, String>,
}

fn one() -> usize {
    1
}

impl Submission {
    /// The array task that runs unit `i` (its index in `units`).
    pub fn task_of(&self, i: usize) -> usize {
        i / self.units_per_task.max(1)
    }
}

fn submissions_dir(exp: &Experiment) -> PathBuf {
    exp.report_dir().join("slurm")
}

/// The most recent submission's folder, if any.
pub fn latest(exp: &Experiment) -> Option<PathBuf> {
    let root = submissions_dir(exp);
    let id = std::fs::read_to_string(root.join("latest")).ok()?;
    let dir = root.join(id.trim());
    dir.join("submission.json").is_file().then_some(dir)
}

fn read_submission(dir: &Path) -> Result<Submission> {
    let p = dir.join("submission.json");
    serde_json::from_slice(
        &std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?,
    )
    .with_context(|| format!("{} is not a submission record", p.display()))
}

/// Runs a SLURM client command and returns its standard output.
fn slurm(cmd: &str, args: &[String]) -> Result<String> {
    let out = Command::new(cmd).args(args).output().with_context(|| {
        format!("cannot run `{cmd}`: is this a SLURM login node (slurm-client installed)?")
    })?;
    if !out.status.success() {
        bail!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sbatch(script: &Path, dependency: Option<&str>) -> Result<String> {
    let mut args = vec!["--parsable".to_string()];
    if let Some(d) = dependency {
        args.push(format!("--dependency=afterany:{d}"));
    }
    args.push(script.display().to_string());
    let out = slurm("sbatch", &args)?;
    // --parsable prints "jobid" or "jobid;cluster".
    Ok(out.trim().split(';').next().unwrap_or("").to_string())
}

/// A fresh submission folder name: the time, made unique.
fn new_id(root: &Path) -> String {
    let now = chrono_like_now();
    let mut id = now.clone();
    let mut n = 1;
    while root.join(&id).exists() {
        n += 1;
        id = format!("{now}-{n}");
    }
    id
}

/// "YYYYmmdd-HHMMSS" in UTC, without a date crate.
fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `runner submit`: returns the exit code (with `--wait`, `run`'s).
pub fn submit(exp: &Experiment, opts: &SubmitOptions) -> Result<i32> {
    let spec = &exp.executor.slurm;
    let ws = Workspace::open(exp)?;
    let all: Vec<usize> = (0..exp.cells.len()).collect();
    let g = ws.graph(exp, &all)?;
    let missing_tracks = g
        .feature_sets
        .iter()
        .flat_map(|f| &f.states)
        .filter(|s| **s == TrackState::Unknown)
        .count();
    let units: Vec<String> = (0..g.units.len())
        .filter(|&u| !g.unit_cached(&ws.store, u))
        .map(|u| g.units[u].id.clone())
        .collect();
    let n_tracks = ws.data.tracks.len();
    let shards = if missing_tracks == 0 {
        0
    } else {
        n_tracks.div_ceil(spec.tracks_per_task).max(1)
    };
    eprintln!(
        "{}: {} cells in {} units; to submit: {} unit(s){}",
        exp.experiment.name,
        exp.cells.len(),
        g.units.len(),
        units.len(),
        if shards > 0 {
            format!(", features of {missing_tracks} track(s) in {shards} task(s)")
        } else {
            String::new()
        }
    );

    let root = submissions_dir(exp);
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let id = new_id(&root);
    let dir = std::path::absolute(root.join(&id))?;
    for sub in ["logs", "records"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }
    let frozen = format!(
        "# Frozen by `runner submit` from {} ({}): file, environment and --set resolved.\n{}",
        exp.file.display(),
        id,
        toml::to_string(&exp.resolved).context("cannot serialise the resolved experiment")?
    );
    std::fs::write(dir.join("experiment.toml"), frozen)?;
    std::fs::write(
        dir.join("units.txt"),
        units.iter().map(|u| format!("{u}\n")).collect::<String>(),
    )?;
    let runner = match &spec.runner {
        Some(r) => r.clone(),
        None => std::env::current_exe().context("cannot locate the runner binary")?,
    };
    let workdir = std::env::current_dir()?;
    let paths = Paths {
        runner: &runner,
        submission: &dir,
        workdir: &workdir,
    };
    let mut jobs: Vec<Job> = Vec::new();
    if shards > 0 {
        jobs.push(Job::Features { shards });
    }
    if !units.is_empty() {
        jobs.push(Job::Units {
            count: units.len(),
            per_task: spec.units_per_task,
        });
    }
    jobs.push(Job::Report);
    let mut scripts = Vec::new();
    for job in &jobs {
        let text = script::script(*job, &exp.experiment.name, spec, &paths);
        let path = dir.join(format!("{}.sbatch", job.name()));
        std::fs::write(&path, &text)?;
        scripts.push((*job, path, text));
    }
    if opts.dry_run {
        for (_, path, text) in &scripts {
            println!("# ---- {}\n{text}", path.display());
        }
        println!(
            "# dry run: nothing submitted; the scripts are in {}",
            dir.display()
        );
        return Ok(crate::cli::exit::OK);
    }

    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut after: Option<String> = None;
    for (job, path, _) in &scripts {
        let jid = sbatch(path, after.as_deref())?;
        eprintln!("submitted {} job {jid}", job.name());
        ids.insert(job.name().to_string(), jid.clone());
        after = Some(jid);
    }
    let record = Submission {
        experiment: exp.experiment.name.clone(),
        source: exp.file.display().to_string(),
        created: id.clone(),
        units,
        feature_shards: shards,
        units_per_task: spec.units_per_task,
        jobs: ids.clone(),
    };
    std::fs::write(
        dir.join("submission.json"),
        serde_json::to_vec_pretty(&record)?,
    )?;
    crate::cache::write_atomic(&root.join("latest"), id.as_bytes())?;
    eprintln!(
        "submission {}: logs in {}, `runner status {}` shows progress",
        id,
        dir.join("logs").display(),
        exp.file.display()
    );
    if !opts.wait {
        return Ok(crate::cli::exit::OK);
    }
    let report = &ids["report"];
    let poll = Duration::from_secs_f64(if opts.poll > 0.0 { opts.poll } else { 5.0 });
    while in_queue(report)? {
        std::thread::sleep(poll);
    }
    match std::fs::read_to_string(dir.join("report.exit")) {
        Ok(code) => {
            let code: i32 = code.trim().parse().unwrap_or(crate::cli::exit::RUNTIME);
            eprintln!(
                "report job {report} finished (exit {code}): {}",
                exp.report_dir().join("report.html").display()
            );
            Ok(code)
        }
        Err(_) => bail!(
            "the report job {report} ended without writing its exit code (cancelled or killed); \
             see {}",
            dir.join("logs/report.out").display()
        ),
    }
}

/// Whether a job (or any task of an array) is still pending or running.
fn in_queue(job: &str) -> Result<bool> {
    Ok(!slurm(
        "squeue",
        &[
            "-h".into(),
            "-j".into(),
            job.into(),
            "-o".into(),
            "%T".into(),
        ],
    )
    .or_else(|e| {
        // squeue rejects a job id it has already forgotten.
        if e.to_string().contains("Invalid job id") {
            Ok(String::new())
        } else {
            Err(e)
        }
    })?
    .trim()
    .is_empty())
}

/// Array task index → state, from squeue (tasks still pending or running).
fn task_states(job: &str) -> BTreeMap<usize, String> {
    let Ok(out) = slurm(
        "squeue",
        &[
            "-h".into(),
            "-r".into(),
            "-j".into(),
            job.into(),
            "-o".into(),
            "%K %T".into(),
        ],
    ) else {
        return BTreeMap::new();
    };
    out.lines()
        .filter_map(|l| {
            let (i, s) = l.trim().split_once(' ')?;
            Some((i.parse().ok()?, s.trim().to_lowercase()))
        })
        .collect()
}

/// Why each unit of a submission is missing from the cache, by unit id:
/// its task's recorded error, or that the task never finished. What a
/// report job puts in the report for the cells it could not read.
pub fn unit_errors(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(sub) = read_submission(dir) else {
        return out;
    };
    for (i, unit) in sub.units.iter().enumerate() {
        let task = sub.task_of(i);
        let log = dir.join(format!("logs/units-{task}.out"));
        let rec = std::fs::read(dir.join(format!("records/unit-{i}.json")))
            .ok()
            .and_then(|b| serde_json::from_slice::<crate::report::results::RunRecord>(&b).ok());
        let why = match rec {
            Some(r) => match r.failed().next() {
                Some(c) => format!(
                    "{} (task {task}; log {})",
                    c.error.as_deref().unwrap_or("failed"),
                    log.display()
                ),
                None => continue,
            },
            None => format!(
                "its SLURM task {task} did not finish (time limit, preemption, cancellation or \
                 a crash); log {}",
                log.display()
            ),
        };
        out.insert(unit.clone(), why);
    }
    out
}

/// `runner status`: per stage, what is cached, queued, running or failed.
pub fn status(exp: &Experiment) -> Result<String> {
    let ws = Workspace::open(exp)?;
    let all: Vec<usize> = (0..exp.cells.len()).collect();
    let g = ws.graph(exp, &all)?;
    let mut s = String::new();
    let sub = latest(exp)
        .map(|d| read_submission(&d).map(|r| (d, r)))
        .transpose()?;
    match &sub {
        Some((dir, r)) => s.push_str(&format!(
            "{}: submission {} ({}), jobs: {}\n",
            exp.experiment.name,
            r.created,
            dir.display(),
            r.jobs
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => s.push_str(&format!(
            "{}: never submitted (`runner submit {}`); cache state:\n",
            exp.experiment.name,
            exp.file.display()
        )),
    }
    for (fs, f) in g.feature_sets.iter().enumerate() {
        let (done, total) = g.tracks_cached(fs);
        let failed = f
            .states
            .iter()
            .filter(|s| matches!(s, TrackState::Failed(_)))
            .count();
        s.push_str(&format!(
            "features {}: {done}/{total} tracks cached{}\n",
            f.label,
            if failed > 0 {
                format!(" ({failed} unusable)")
            } else {
                String::new()
            }
        ));
    }
    let (states, errors) = match &sub {
        Some((dir, r)) => (
            r.jobs
                .get("units")
                .map(|j| task_states(j))
                .unwrap_or_default(),
            unit_errors(dir),
        ),
        None => Default::default(),
    };
    let width = g.units.iter().map(|u| u.id.len()).max().unwrap_or(4);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (u, unit) in g.units.iter().enumerate() {
        let task = sub.as_ref().and_then(|(_, r)| {
            r.units
                .iter()
                .position(|x| *x == unit.id)
                .map(|i| r.task_of(i))
        });
        let state = if g.unit_cached(&ws.store, u) {
            "cached".to_string()
        } else if let Some(st) = task.and_then(|t| states.get(&t)) {
            st.clone()
        } else if let Some(why) = errors.get(&unit.id) {
            format!("failed: {why}")
        } else {
            "not computed".to_string()
        };
        let word = state.split([':', ' ']).next().unwrap_or("?").to_string();
        *counts.entry(word).or_default() += 1;
        let cells = unit.cells.len();
        s.push_str(&format!("  {:width$}  {cells} cell(s)  {state}\n", unit.id));
    }
    s.push_str(&format!(
        "units: {}\n",
        counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some((dir, r)) = &sub {
        if let Some(job) = r.jobs.get("report") {
            let line = if in_queue(job).unwrap_or(false) {
                format!("report: job {job} waiting or running")
            } else {
                match std::fs::read_to_string(dir.join("report.exit")) {
                    Ok(c) => format!(
                        "report: written (exit {}), {}",
                        c.trim(),
                        exp.report_dir().join("report.html").display()
                    ),
                    Err(_) => format!(
                        "report: job {job} ended without a report; log {}",
                        dir.join("logs/report.out").display()
                    ),
                }
            };
            s.push_str(&line);
            s.push('\n');
        }
    }
    Ok(s)
}
