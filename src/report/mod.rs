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

use results::RunRecord;

/// Every file a report folder holds.
pub const FILES: &[&str] = &[
    "results.json",
    "results.csv",
    "results.parquet",
    "report.md",
    "report.html",
];

pub fn write_all(rec: &RunRecord, dir: &Path, templates: Option<&Path>) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(rec)?;
    crate::cache::write_atomic(&dir.join("results.json"), &json)?;
    render_from(rec, dir, templates)?;
    Ok(FILES.iter().map(|f| dir.join(f)).collect())
}

/// Tables and documents from a record (no computation).
pub fn render_from(rec: &RunRecord, dir: &Path, templates: Option<&Path>) -> Result<()> {
    let mut df = table::dataframe(rec)?;
    table::write_csv(&mut df, &dir.join("results.csv"))?;
    table::write_parquet(&mut df, &dir.join("results.parquet"))?;
    let mut agg = table::aggregated_dataframe(rec)?;
    table::write_csv(&mut agg, &dir.join("results_by_config.csv"))?;
    let figures = figures::figures(rec);
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)
        .with_context(|| format!("cannot create {}", fig_dir.display()))?;
    for f in &figures {
        crate::cache::write_atomic(&fig_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes())?;
    }
    // Figures of an earlier rendering that this one no longer draws would
    // linger beside the report and in its diffs.
    remove_stale(
        &fig_dir,
        "svg",
        &figures
            .iter()
            .map(|f| format!("{}.svg", f.name))
            .collect::<Vec<_>>(),
    )?;
    let mut listening = listen::plan(rec, &table::ranked(rec));
    listen::attach_audio(&mut listening, rec, dir)?;
    let (md, html) = render::render(rec, templates, &figures, &listening)?;
    crate::cache::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    crate::cache::write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(())
}

/// Removes files with this extension from `dir` that are not in `keep`.
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
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a vaerun results file", path.display()))
}
