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

#[derive(Debug, Serialize, PartialEq)]
pub struct MetricChange {
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    pub delta: Option<f64>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ParamChange {
    pub param: String,
    pub old: Option<serde_json::Value>,
    pub new: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CellDiff {
    pub cell: String,
    pub metrics: Vec<MetricChange>,
    pub params: Vec<ParamChange>,
}

#[derive(Debug, Serialize, PartialEq, Default)]
pub struct ExperimentDiff {
    pub experiment: String,
    pub changed: Vec<CellDiff>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
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

/// Every `reports/<name>/results.json` at `rev` (None = the working tree).
pub fn load_all(root: &Path, rev: Option<&str>) -> Result<BTreeMap<String, RunRecord>> {
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
        if parts.len() != 3 || parts[2] != "results.json" {
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

pub fn diff(name: &str, old: Option<&RunRecord>, new: Option<&RunRecord>) -> ExperimentDiff {
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
                let delta = x.zip(y).map(|(x, y)| y - x);
                let same = match delta {
                    Some(dl) => dl.abs() <= 1e-12 * x.unwrap().abs().max(1.0),
                    None => x.is_none() && y.is_none(),
                };
                (!same).then(|| MetricChange {
                    metric: m.clone(),
                    old: x,
                    new: y,
                    delta,
                })
            })
            .collect();
        let pnames: BTreeSet<&String> = ca.params.keys().chain(cb.params.keys()).collect();
        let params: Vec<ParamChange> = pnames
            .into_iter()
            .filter(|p| ca.params.get(*p) != cb.params.get(*p))
            .map(|p| ParamChange {
                param: p.clone(),
                old: ca.params.get(p).cloned(),
                new: cb.params.get(p).cloned(),
            })
            .collect();
        if !metrics.is_empty() || !params.is_empty() {
            d.changed.push(CellDiff {
                cell: id.clone(),
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

fn val(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "—".into())
}

/// Markdown, ready for a pull request.
pub fn markdown(diffs: &[ExperimentDiff], a: &str, b: &str) -> String {
    let mut s = format!("## vaerun results: {a} → {b}\n\n");
    if diffs
        .iter()
        .all(|d| d.changed.is_empty() && d.added.is_empty() && d.removed.is_empty())
    {
        s.push_str("No differences.\n");
        return s;
    }
    for d in diffs {
        if d.changed.is_empty() && d.added.is_empty() && d.removed.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "### {}\n\n",
            super::render::md_escape(&d.experiment)
        ));
        let rows: Vec<(&str, &MetricChange)> = d
            .changed
            .iter()
            .flat_map(|c| c.metrics.iter().map(move |m| (c.cell.as_str(), m)))
            .collect();
        if !rows.is_empty() {
            s.push_str("| cell | metric | old | new | change |\n|---|---|---|---|---|\n");
            for (cell, m) in rows {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    super::render::md_escape(cell),
                    m.metric,
                    num(m.old),
                    num(m.new),
                    signed(m.delta)
                ));
            }
            s.push('\n');
        }
        let params: Vec<(&str, &ParamChange)> = d
            .changed
            .iter()
            .flat_map(|c| c.params.iter().map(move |p| (c.cell.as_str(), p)))
            .collect();
        if !params.is_empty() {
            s.push_str("| cell | parameter | old | new |\n|---|---|---|---|\n");
            for (cell, p) in params {
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    super::render::md_escape(cell),
                    p.param,
                    val(&p.old),
                    val(&p.new)
                ));
            }
            s.push('\n');
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

/// Plain aligned text for the terminal.
pub fn table(diffs: &[ExperimentDiff]) -> String {
    let mut s = String::new();
    for d in diffs {
        for c in &d.changed {
            for m in &c.metrics {
                s.push_str(&format!(
                    "{}  {}  {}  {} -> {}  ({})\n",
                    d.experiment,
                    c.cell,
                    m.metric,
                    num(m.old),
                    num(m.new),
                    signed(m.delta)
                ));
            }
            for p in &c.params {
                s.push_str(&format!(
                    "{}  {}  {}  {} -> {}\n",
                    d.experiment,
                    c.cell,
                    p.param,
                    val(&p.old),
                    val(&p.new)
                ));
            }
        }
        for c in &d.added {
            s.push_str(&format!("{}  + {c}\n", d.experiment));
        }
        for c in &d.removed {
            s.push_str(&format!("{}  - {c}\n", d.experiment));
        }
    }
    if s.is_empty() {
        s.push_str("no differences\n");
    }
    s
}
