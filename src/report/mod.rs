//! Results on disk: `results.json` (the full record), `results.csv` and
//! `results.parquet` (one row per cell), and the rendered `report.md` and
//! `report.html`. `runner report` re-renders from `results.json` alone.

pub mod colours;
pub mod diff;
pub mod figures;
pub mod heatmap;
pub mod listen;
pub mod params;
pub mod recon;
pub mod render;
pub mod results;
pub mod table;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fileset::{self, FileSet};
use results::RunRecord;

/// Every file a report folder holds.
pub const FILES: &[&str] = &[
    "results.json",
    "results.csv",
    "results.parquet",
    "report.md",
    "report.html",
];

/// Writes `results.json` and everything rendered from it, as one set: a
/// failure (a full disk) leaves the folder's old files as they were.
pub fn write_all(rec: &RunRecord, dir: &Path, templates: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut set = FileSet::new();
    let drawn = stage_rendered(rec, dir, templates, &mut set)?;
    // Last: a new results.json means every file beside it is new too.
    set.stage(&dir.join("results.json"), &serde_json::to_vec_pretty(rec)?)?;
    set.commit()?;
    remove_stale(&dir.join("figures"), "svg", &drawn)?;
    Ok(FILES.iter().map(|f| dir.join(f)).collect())
}

/// Tables and documents from a record (no computation), written as one set.
pub fn render_from(rec: &RunRecord, dir: &Path, templates: Option<&Path>) -> Result<()> {
    let mut set = FileSet::new();
    let drawn = stage_rendered(rec, dir, templates, &mut set)?;
    set.commit()?;
    remove_stale(&dir.join("figures"), "svg", &drawn)
}

/// Renders every table, figure and document, and stages them in `set`;
/// the names of the figures drawn.
fn stage_rendered(
    rec: &RunRecord,
    dir: &Path,
    templates: Option<&Path>,
    set: &mut FileSet,
) -> Result<Vec<String>> {
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)
        .with_context(|| format!("cannot create {}", fig_dir.display()))?;
    fileset::sweep_stale(dir);
    fileset::sweep_stale(&fig_dir);
    let mut df = table::dataframe(rec)?;
    set.stage(&dir.join("results.csv"), &table::csv_bytes(&mut df)?)?;
    set.stage(
        &dir.join("results.parquet"),
        &table::parquet_bytes(&mut df)?,
    )?;
    let mut agg = table::aggregated_dataframe(rec)?;
    set.stage(
        &dir.join("results_by_config.csv"),
        &table::csv_bytes(&mut agg)?,
    )?;
    let figures = figures::figures(rec);
    for f in &figures {
        set.stage(&fig_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes())?;
    }
    let mut listening = listen::plan(rec, &table::ranked(rec));
    listen::attach_audio(&mut listening, rec, dir)?;
    let (md, html) = render::render(rec, templates, &figures, &listening)?;
    set.stage(&dir.join("report.md"), md.as_bytes())?;
    set.stage(&dir.join("report.html"), html.as_bytes())?;
    Ok(figures.iter().map(|f| format!("{}.svg", f.name)).collect())
}

/// Removes files with this extension from `dir` that are not in `keep`:
/// figures of an earlier rendering that this one no longer draws would
/// linger beside the report and in its diffs. Run after the new set is in
/// place, so a failed rendering leaves the old report whole.
fn remove_stale(dir: &Path, ext: &str, keep: &[String]) -> Result<()> {
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().extension().is_some_and(|x| x == ext) && !keep.contains(&name) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("cannot remove {}", e.path().display()))?;
        }
    }
    Ok(())
}

pub fn load(dir: &Path) -> Result<RunRecord> {
    let path = dir.join("results.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {}: run the experiment first (`runner run EXP.toml`)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        // Say which version wrote it when that is what does not fit.
        let writer = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["vaerun_version"].as_str().map(str::to_string));
        let hint = match writer {
            Some(v) if is_newer(&v, env!("CARGO_PKG_VERSION")) => format!(
                " (written by vaerun {v}, newer than this vaerun {}; use that version)",
                env!("CARGO_PKG_VERSION")
            ),
            _ => String::new(),
        };
        anyhow::anyhow!("{} is not a vaerun results file{hint}: {e}", path.display())
    })
}

/// A warning when the record was written by a newer vaerun than this one:
/// it may hold fields this version does not know, which it leaves out.
pub fn newer_version_warning(rec: &RunRecord) -> Option<String> {
    let this = env!("CARGO_PKG_VERSION");
    is_newer(&rec.vaerun_version, this).then(|| {
        format!(
            "results.json was written by vaerun {}, newer than this vaerun {this}: \
             anything that version added is left out of this rendering",
            rec.vaerun_version
        )
    })
}

/// Whether version `a` is newer than `b` (dotted numbers; a suffix such as
/// `-dev` is ignored).
fn is_newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x > y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        assert!(super::is_newer("0.10.0", "0.9.3"));
        assert!(super::is_newer("1.0.0", "0.1.0"));
        assert!(!super::is_newer("0.1.0", "0.1.0"));
        assert!(!super::is_newer("0.1.0-dev", "0.1.0"));
        assert!(!super::is_newer("0.0.9", "0.1.0"));
    }
}
