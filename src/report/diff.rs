//! `runner diff`: the committed `reports/*/results.json` of two git revisions
//! (or a revision and the working tree), compared cell by cell, in the spirit
//! of `dvc metrics diff`. Revisions are read with plain `git` processes, no
//! shell.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::results::RunRecord;
use super::table::Agg;

#[derive(Debug, Serialize, PartialEq)]
pub struct MetricChange {
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    pub delta: Option<f64>,
}

#[derive(Debug, Serialize, PartialEq, Clone)]
pub struct ParamChange {
    pub param: String,
    pub old: Option<serde_json::Value>,
    pub new: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CellDiff {
    pub cell: String,
    pub metrics: Vec<MetricChange>,
}

/// A metric of one configuration over its seeds, before and after.
#[derive(Debug, Serialize, PartialEq)]
pub struct SpreadChange {
    pub metric: String,
    pub old: Agg,
    pub new: Agg,
    /// Change of the mean.
    pub delta: Option<f64>,
    /// |change of the mean| exceeds the larger of the two seed-to-seed
    /// standard deviations: more than seed noise.
    pub beyond_spread: bool,
}

/// One configuration (a cell id without its seed): its metrics' means and
/// spreads before and after, and its parameter changes, listed once.
#[derive(Debug, Serialize, PartialEq)]
pub struct ConfigDiff {
    pub config: String,
    pub metrics: Vec<SpreadChange>,
    pub params: Vec<ParamChange>,
}

#[derive(Debug, Serialize, PartialEq, Default)]
pub struct ExperimentDiff {
    pub experiment: String,
    pub configs: Vec<ConfigDiff>,
    pub changed: Vec<CellDiff>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl ExperimentDiff {
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
            && self.changed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
    }

    /// How many differences there are: changed metric values, changed
    /// parameters, added and removed cells.
    pub fn count(&self) -> usize {
        self.changed.iter().map(|c| c.metrics.len()).sum::<usize>()
            + self.configs.iter().map(|c| c.params.len()).sum::<usize>()
            + self.added.len()
            + self.removed.len()
    }
}

/// The repository root holding `dir`, or a clear error.
pub fn repo_root(dir: &Path) -> Result<PathBuf> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "{} is not inside a git repository: runner diff compares committed results",
            dir.display()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn git(root: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .context("cannot run git")
}

/// Checks that `rev` names a commit.
pub fn verify(root: &Path, rev: &str) -> Result<()> {
    let out = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?;
    if !out.status.success() {
        bail!("unknown revision `{rev}`");
    }
    Ok(())
}

/// Every `reports/<name>/results.json` at `rev` (None = the working tree),
/// or only `only`'s: a damaged record of another experiment is not read.
pub fn load_all(
    root: &Path,
    rev: Option<&str>,
    only: Option<&str>,
) -> Result<BTreeMap<String, RunRecord>> {
    let mut paths = Vec::new();
    match rev {
        Some(rev) => {
            let out = git(
                root,
                &["ls-tree", "-r", "--name-only", rev, "--", "reports"],
            )?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                paths.push(line.to_string());
            }
        }
        None => {
            if let Ok(entries) = std::fs::read_dir(root.join("reports")) {
                for e in entries.flatten() {
                    paths.push(format!(
                        "reports/{}/results.json",
                        e.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for p in paths {
        let parts: Vec<&str> = p.split('/').collect();
        if parts.len() != 3 || parts[2] != "results.json" || only.is_some_and(|o| o != parts[1]) {
            continue;
        }
        let bytes = match rev {
            Some(rev) => {
                let o = git(root, &["show", &format!("{rev}:{p}")])?;
                if !o.status.success() {
                    continue;
                }
                o.stdout
            }
            None => match std::fs::read(root.join(&p)) {
                Ok(b) => b,
                Err(_) => continue,
            },
        };
        let rec: RunRecord = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}{p} is not a vaerun results file",
                rev.map(|r| format!("{r}:")).unwrap_or_default()
            )
        })?;
        out.insert(parts[1].to_string(), rec);
    }
    Ok(out)
}

/// Two values differ when they differ by more than `tolerance` (and by
/// more than float noise: 1e-12 relative).
fn differs(x: Option<f64>, y: Option<f64>, tolerance: f64) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => (y - x).abs() > tolerance.max(1e-12 * x.abs().max(1.0)),
        (None, None) => false,
        _ => true,
    }
}

fn config_of(cell: &str) -> &str {
    cell.rsplit_once("/seed=").map_or(cell, |(a, _)| a)
}

pub fn diff(
    name: &str,
    old: Option<&RunRecord>,
    new: Option<&RunRecord>,
    tolerance: f64,
) -> ExperimentDiff {
    let index = |r: Option<&RunRecord>| -> BTreeMap<String, super::results::CellResult> {
        r.map(|r| {
            r.cells
                .iter()
                .map(|c| (c.cell.clone(), c.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let (a, b) = (index(old), index(new));
    let mut d = ExperimentDiff {
        experiment: name.to_string(),
        ..Default::default()
    };
    d.removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    d.added = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    let mut params: BTreeMap<String, Vec<ParamChange>> = BTreeMap::new();
    for (id, ca) in &a {
        let Some(cb) = b.get(id) else { continue };
        let names: BTreeSet<&String> = ca.metrics.keys().chain(cb.metrics.keys()).collect();
        let metrics: Vec<MetricChange> = names
            .into_iter()
            .filter_map(|m| {
                let (x, y) = (
                    ca.metrics.get(m).copied().flatten(),
                    cb.metrics.get(m).copied().flatten(),
                );
                differs(x, y, tolerance).then(|| MetricChange {
                    metric: m.clone(),
                    old: x,
                    new: y,
                    delta: x.zip(y).map(|(x, y)| y - x),
                })
            })
            .collect();
        if !metrics.is_empty() {
            d.changed.push(CellDiff {
                cell: id.clone(),
                metrics,
            });
        }
        let pnames: BTreeSet<&String> = ca.params.keys().chain(cb.params.keys()).collect();
        let list = params.entry(config_of(id).to_string()).or_default();
        for p in pnames
            .into_iter()
            .filter(|p| ca.params.get(*p) != cb.params.get(*p))
        {
            let change = ParamChange {
                param: p.clone(),
                old: ca.params.get(p).cloned(),
                new: cb.params.get(p).cloned(),
            };
            if !list.contains(&change) {
                list.push(change);
            }
        }
    }
    // The per-configuration summary: every configuration present on both
    // sides whose metrics or parameters changed.
    let agg = |r: Option<&RunRecord>| -> BTreeMap<String, super::table::AggRow> {
        r.map(|r| {
            super::table::aggregate(r)
                .into_iter()
                .map(|row| (row.config.clone(), row))
                .collect()
        })
        .unwrap_or_default()
    };
    let (ga, gb) = (agg(old), agg(new));
    for (config, ra) in &ga {
        let Some(rb) = gb.get(config) else { continue };
        let names: BTreeSet<&String> = ra.metrics.keys().chain(rb.metrics.keys()).collect();
        let empty = Agg {
            mean: None,
            std: None,
            n: 0,
        };
        let metrics: Vec<SpreadChange> = names
            .into_iter()
            .filter_map(|m| {
                let (x, y) = (
                    ra.metrics.get(m).unwrap_or(&empty),
                    rb.metrics.get(m).unwrap_or(&empty),
                );
                let seeds_changed = d
                    .changed
                    .iter()
                    .filter(|c| config_of(&c.cell) == config)
                    .any(|c| c.metrics.iter().any(|mc| &mc.metric == m));
                (seeds_changed || differs(x.mean, y.mean, tolerance)).then(|| {
                    let delta = x.mean.zip(y.mean).map(|(x, y)| y - x);
                    let spread = x.std.unwrap_or(0.0).max(y.std.unwrap_or(0.0));
                    SpreadChange {
                        metric: m.clone(),
                        old: x.clone(),
                        new: y.clone(),
                        delta,
                        beyond_spread: delta.is_some_and(|dl| dl.abs() > spread),
                    }
                })
            })
            .collect();
        let params = params.remove(config).unwrap_or_default();
        if !metrics.is_empty() || !params.is_empty() {
            d.configs.push(ConfigDiff {
                config: config.clone(),
                metrics,
                params,
            });
        }
    }
    d
}

fn num(v: Option<f64>) -> String {
    v.map(super::render::fmt_num).unwrap_or_else(|| "—".into())
}

fn signed(v: Option<f64>) -> String {
    v.map(|d| {
        format!(
            "{}{}",
            if d >= 0.0 { "+" } else { "" },
            super::render::fmt_num(d)
        )
    })
    .unwrap_or_else(|| "—".into())
}

fn spread(a: &Agg) -> String {
    match (a.mean, a.std) {
        (Some(m), Some(s)) if a.n > 1 => format!(
            "{} ± {} (n={})",
            super::render::fmt_num(m),
            super::render::fmt_num(s),
            a.n
        ),
        (Some(m), _) => format!("{} (n={})", super::render::fmt_num(m), a.n),
        _ => "—".into(),
    }
}

fn val(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "—".into())
}

/// Markdown, ready for a pull request: per configuration first, then the
/// cells.
pub fn markdown(diffs: &[ExperimentDiff], a: &str, b: &str) -> String {
    use super::render::md_escape;
    let mut s = format!("## vaerun results: {a} → {b}\n\n");
    if diffs.iter().all(ExperimentDiff::is_empty) {
        s.push_str("No differences.\n");
        return s;
    }
    for d in diffs.iter().filter(|d| !d.is_empty()) {
        s.push_str(&format!("### {}\n\n", md_escape(&d.experiment)));
        let rows: Vec<(&str, &SpreadChange)> = d
            .configs
            .iter()
            .flat_map(|c| c.metrics.iter().map(move |m| (c.config.as_str(), m)))
            .collect();
        if !rows.is_empty() {
            s.push_str(
                "Per configuration, mean ± std over seeds; **bold** changes exceed the \
                 seed-to-seed spread.\n\n| configuration | metric | old | new | change |\n\
                 |---|---|---|---|---|\n",
            );
            for (config, m) in rows {
                let change = signed(m.delta);
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    md_escape(config),
                    m.metric,
                    spread(&m.old),
                    spread(&m.new),
                    if m.beyond_spread {
                        format!("**{change}**")
                    } else {
                        change
                    }
                ));
            }
            s.push('\n');
        }
        let params: Vec<(&str, &ParamChange)> = d
            .configs
            .iter()
            .flat_map(|c| c.params.iter().map(move |p| (c.config.as_str(), p)))
            .collect();
        if !params.is_empty() {
            s.push_str("| configuration | parameter | old | new |\n|---|---|---|---|\n");
            for (config, p) in params {
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    md_escape(config),
                    p.param,
                    val(&p.old),
                    val(&p.new)
                ));
            }
            s.push('\n');
        }
        let cells: Vec<(&str, &MetricChange)> = d
            .changed
            .iter()
            .flat_map(|c| c.metrics.iter().map(move |m| (c.cell.as_str(), m)))
            .collect();
        if !cells.is_empty() {
            s.push_str(&format!(
                "<details><summary>{} changed values in {} cells</summary>\n\n\
                 | cell | metric | old | new | change |\n|---|---|---|---|---|\n",
                cells.len(),
                d.changed.len()
            ));
            for (cell, m) in cells {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    md_escape(cell),
                    m.metric,
                    num(m.old),
                    num(m.new),
                    signed(m.delta)
                ));
            }
            s.push_str("\n</details>\n\n");
        }
        for c in &d.added {
            s.push_str(&format!("- added: `{c}`\n"));
        }
        for c in &d.removed {
            s.push_str(&format!("- removed: `{c}`\n"));
        }
        s.push('\n');
    }
    s
}

/// Plain aligned text for the terminal: per configuration first (`!` marks
/// a change beyond the seed-to-seed spread), then the cells.
pub fn table(diffs: &[ExperimentDiff]) -> String {
    let mut s = String::new();
    for d in diffs {
        for c in &d.configs {
            for m in &c.metrics {
                s.push_str(&format!(
                    "{} {}  {}  {}  {} -> {}  ({})\n",
                    if m.beyond_spread { "!" } else { " " },
                    d.experiment,
                    c.config,
                    m.metric,
                    spread(&m.old),
                    spread(&m.new),
                    signed(m.delta)
                ));
            }
            for p in &c.params {
                s.push_str(&format!(
                    "  {}  {}  {}  {} -> {}\n",
                    d.experiment,
                    c.config,
                    p.param,
                    val(&p.old),
                    val(&p.new)
                ));
            }
        }
        for c in &d.changed {
            for m in &c.metrics {
                s.push_str(&format!(
                    "  {}  {}  {}  {} -> {}  ({})\n",
                    d.experiment,
                    c.cell,
                    m.metric,
                    num(m.old),
                    num(m.new),
                    signed(m.delta)
                ));
            }
        }
        for c in &d.added {
            s.push_str(&format!("  {}  + {c}\n", d.experiment));
        }
        for c in &d.removed {
            s.push_str(&format!("  {}  - {c}\n", d.experiment));
        }
    }
    if s.is_empty() {
        s.push_str("no differences\n");
    }
    s
}
