//! Rendering the Markdown and HTML reports with tera. The templates live in
//! `templates/` and are compiled into the binary; `report.templates` points
//! at a folder whose `report.md` / `report.html` replace them.
//!
//! All numbers are formatted here, so templates only lay out strings. HTML is
//! auto-escaped by tera; Markdown cells are escaped by [`md_escape`].

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::results::{CellStatus, RunRecord};
use super::table::{aggregate, Agg};
use crate::cluster::metrics::{ALL_METRICS, EXTERNAL};

const MD_TEMPLATE: &str = include_str!("../../templates/report.md");
const HTML_TEMPLATE: &str = include_str!("../../templates/report.html");

/// Lower is better for these metrics.
pub fn lower_is_better(metric: &str) -> bool {
    metric == "davies_bouldin"
}

pub fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn fmt_agg(a: &Agg) -> String {
    match (a.mean, a.std) {
        (Some(m), Some(s)) if a.n > 1 => format!("{} ± {}", fmt_num(m), fmt_num(s)),
        (Some(m), _) => fmt_num(m),
        _ => "—".into(),
    }
}

/// Escapes text for a Markdown table cell: pipes, HTML and line breaks.
pub fn md_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[derive(Serialize)]
struct Cell {
    text: String,
    best: bool,
}

#[derive(Serialize)]
struct LeaderRow {
    rank: usize,
    config: String,
    feature_set: String,
    representation: String,
    clusterer: String,
    seeds: usize,
    failed: usize,
    values: Vec<Cell>,
}

#[derive(Serialize)]
struct CellRow {
    cell: String,
    ok: bool,
    clusters: String,
    values: Vec<String>,
    error: String,
}

/// A labelled table row of formatted values.
type Row = (String, Vec<String>);

#[derive(Serialize)]
struct ReportContext {
    title: String,
    description: String,
    experiment: String,
    file: String,
    version: String,
    commit: String,
    device: String,
    wall: String,
    n_cells: usize,
    n_ok: usize,
    n_failed: usize,
    sort_by: String,
    sort_dir: String,
    metrics: Vec<String>,
    has_external: bool,
    leaderboard: Vec<LeaderRow>,
    winner: String,
    cells: Vec<CellRow>,
    dataset: String,
    tracks: usize,
    classes: Vec<(String, usize)>,
    skipped: Vec<(String, String, String)>,
    /// stage, cache hits, computed, seconds spent in this run (summed over cells).
    cache: Vec<(String, u64, u64, String)>,
    all_cached: bool,
    failed: Vec<(String, String)>,
    undefined: Vec<(String, String, String)>,
    /// External metrics: the clustering vs the true labels, and vs shuffled labels.
    warnings: Vec<String>,
    /// Label-leak warnings, shown again above the leaderboard.
    leaks: Vec<String>,
    control_metrics: Vec<String>,
    control: Vec<(String, Vec<String>)>,
    /// Metrics with noise points excluded, for configurations that mark noise.
    noise: Vec<(String, Vec<String>)>,
    /// Per metric: representation (rows) × clusterer (columns), means over seeds.
    matrix_columns: Vec<String>,
    matrices: Vec<(String, Vec<Row>)>,
}

fn context(rec: &RunRecord, esc: &dyn Fn(&str) -> String) -> ReportContext {
    // Metric columns: external first (they answer "did it find the genres?"),
    // then internal; only metrics present in the results.
    let present: std::collections::BTreeSet<&String> =
        rec.cells.iter().flat_map(|c| c.metrics.keys()).collect();
    let mut metrics: Vec<String> = EXTERNAL
        .iter()
        .chain(ALL_METRICS.iter().filter(|m| !EXTERNAL.contains(m)))
        .filter(|m| present.contains(&m.to_string()))
        .map(|m| m.to_string())
        .collect();
    // External metrics that are undefined everywhere (no labels) are dropped.
    metrics.retain(|m| {
        rec.cells
            .iter()
            .any(|c| c.metrics.get(m).copied().flatten().is_some())
            || !EXTERNAL.contains(&m.as_str())
    });
    let has_external = metrics.iter().any(|m| EXTERNAL.contains(&m.as_str()));

    let mut agg = aggregate(rec);
    let sort = rec.sort_by.clone();
    let key = |r: &super::table::AggRow| r.metrics.get(&sort).and_then(|a| a.mean);
    agg.sort_by(|a, b| {
        let (x, y) = (key(a), key(b));
        match (x, y) {
            (Some(x), Some(y)) if lower_is_better(&sort) => x.total_cmp(&y),
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        }
    });
    let best: BTreeMap<&String, f64> = metrics
        .iter()
        .filter_map(|m| {
            let vals = agg
                .iter()
                .filter_map(|r| r.metrics.get(m).and_then(|a| a.mean));
            let b = if lower_is_better(m) {
                vals.fold(f64::INFINITY, f64::min)
            } else {
                vals.fold(f64::NEG_INFINITY, f64::max)
            };
            b.is_finite().then_some((m, b))
        })
        .collect();
    let leaderboard: Vec<LeaderRow> = agg
        .iter()
        .enumerate()
        .map(|(i, r)| LeaderRow {
            rank: i + 1,
            config: if r.label_leak {
                format!("{} ⚠ label leak", esc(&r.config))
            } else {
                esc(&r.config)
            },
            feature_set: esc(&r.feature_set),
            representation: esc(&r.representation),
            clusterer: esc(&r.clusterer),
            seeds: r.seeds,
            failed: r.failed,
            values: metrics
                .iter()
                .map(|m| {
                    let a = r.metrics.get(m).cloned().unwrap_or(Agg {
                        mean: None,
                        std: None,
                        n: 0,
                    });
                    Cell {
                        best: a.mean.is_some() && a.mean == best.get(m).copied(),
                        text: fmt_agg(&a),
                    }
                })
                .collect(),
        })
        .collect();
    let winner = match (agg.first(), agg.get(1)) {
        (Some(w), second) => match (
            w.metrics.get(&sort).and_then(|a| a.mean),
            second.and_then(|s| s.metrics.get(&sort).and_then(|a| a.mean)),
        ) {
            (Some(v), Some(s)) => format!(
                "{} leads on {sort} with {} ({} {} than the runner-up, {}).",
                esc(&w.config),
                fmt_num(v),
                fmt_num((v - s).abs()),
                if lower_is_better(&sort) {
                    "lower"
                } else {
                    "higher"
                },
                esc(&second.unwrap().config)
            ),
            (Some(v), None) => format!("{} scores {} on {sort}.", esc(&w.config), fmt_num(v)),
            _ => format!("No configuration has a defined {sort}."),
        },
        _ => "No results.".into(),
    };
    let cells = rec
        .cells
        .iter()
        .map(|c| CellRow {
            cell: esc(&c.cell),
            ok: c.status == CellStatus::Ok,
            clusters: c
                .clusters
                .map(|k| k.to_string())
                .unwrap_or_else(|| "—".into()),
            values: metrics
                .iter()
                .map(|m| {
                    c.metrics
                        .get(m)
                        .copied()
                        .flatten()
                        .map(fmt_num)
                        .unwrap_or_else(|| "—".into())
                })
                .collect(),
            error: esc(c.error.as_deref().unwrap_or("")),
        })
        .collect();
    let mut undefined = Vec::new();
    for c in &rec.cells {
        for (m, why) in &c.undefined {
            undefined.push((esc(&c.cell), esc(m), esc(why)));
        }
    }
    let control_metrics: Vec<String> = metrics
        .iter()
        .filter(|m| agg.iter().any(|r| r.control.contains_key(*m)))
        .cloned()
        .collect();
    let control = agg
        .iter()
        .filter(|r| !r.control.is_empty())
        .map(|r| {
            let vals = control_metrics
                .iter()
                .map(|m| {
                    let real = r.metrics.get(m).and_then(|a| a.mean);
                    let chance = r.control.get(m).and_then(|a| a.mean);
                    match (real, chance) {
                        (Some(a), Some(b)) => format!("{} vs {}", fmt_num(a), fmt_num(b)),
                        _ => "—".into(),
                    }
                })
                .collect();
            (esc(&r.config), vals)
        })
        .collect();
    let noise = agg
        .iter()
        .filter(|r| !r.noise_excluded.is_empty())
        .map(|r| {
            let vals = metrics
                .iter()
                .map(|m| {
                    r.noise_excluded
                        .get(m)
                        .map(fmt_agg)
                        .unwrap_or_else(|| "—".into())
                })
                .collect();
            (esc(&r.config), vals)
        })
        .collect();
    // Representation × clusterer matrices (rows keep their feature set).
    let mut row_names: Vec<String> = Vec::new();
    let mut col_names: Vec<String> = Vec::new();
    for r in &agg {
        let rn = format!("{}/{}", r.feature_set, r.representation);
        if !row_names.contains(&rn) {
            row_names.push(rn);
        }
        if !col_names.contains(&r.clusterer) {
            col_names.push(r.clusterer.clone());
        }
    }
    row_names.sort();
    let matrices = metrics
        .iter()
        .map(|m| {
            let rows = row_names
                .iter()
                .map(|rn| {
                    let vals = col_names
                        .iter()
                        .map(|cn| {
                            agg.iter()
                                .find(|r| {
                                    &format!("{}/{}", r.feature_set, r.representation) == rn
                                        && &r.clusterer == cn
                                })
                                .and_then(|r| r.metrics.get(m).and_then(|a| a.mean))
                                .map(fmt_num)
                                .unwrap_or_else(|| "—".into())
                        })
                        .collect();
                    (esc(rn), vals)
                })
                .collect();
            (m.clone(), rows)
        })
        .collect();
    let n_failed = rec.failed().count();
    ReportContext {
        title: esc(&rec
            .title
            .clone()
            .unwrap_or_else(|| format!("vaerun report: {}", rec.experiment))),
        description: esc(&rec.description),
        experiment: esc(&rec.experiment),
        file: esc(&rec.file),
        version: rec.vaerun_version.clone(),
        commit: rec
            .git_commit
            .clone()
            .unwrap_or_else(|| "(not in a git repository)".into()),
        device: esc(&rec.device),
        wall: format!("{:.1} s", rec.wall_seconds),
        n_cells: rec.cells.len(),
        n_ok: rec.cells.len() - n_failed,
        n_failed,
        sort_by: sort.clone(),
        sort_dir: if lower_is_better(&sort) {
            "lower is better"
        } else {
            "higher is better"
        }
        .into(),
        metrics,
        has_external,
        leaderboard,
        winner,
        cells,
        dataset: esc(&rec.dataset.description),
        tracks: rec.dataset.tracks,
        classes: class_rows(rec, esc),
        skipped: rec
            .dataset
            .skipped
            .iter()
            .map(|s| (esc(&s.track), esc(&s.feature_set), esc(&s.reason)))
            .collect(),
        cache: rec
            .cache
            .iter()
            .map(|(s, c)| {
                // Shared stages (features, represent) appear in several cells: count each key once.
                let mut seen = std::collections::BTreeSet::new();
                let secs: f64 = rec
                    .cells
                    .iter()
                    .filter(|cell| cell.keys.get(s).is_none_or(|k| seen.insert(k.clone())))
                    .filter_map(|cell| cell.timings.get(s))
                    .fold(0.0, |a, b| a + b); // not sum(): an empty f64 sum is −0.0
                (s.clone(), c.hits, c.misses, format!("{secs:.2}"))
            })
            .collect(),
        all_cached: rec.cache.values().all(|c| c.misses == 0),
        failed: rec
            .failed()
            .map(|c| (esc(&c.cell), esc(c.error.as_deref().unwrap_or(""))))
            .collect(),
        undefined,
        warnings: rec.warnings.iter().map(|w| esc(w)).collect(),
        leaks: rec
            .warnings
            .iter()
            .filter(|w| w.starts_with("label leak"))
            .map(|w| esc(w))
            .collect(),
        control_metrics,
        control,
        noise,
        matrix_columns: col_names.iter().map(|c| esc(c)).collect(),
        matrices,
    }
}

/// The report templates, read and parsed: the built-in ones, or a user's
/// folder's. Called before a run computes anything, so that a missing or
/// broken template is not found only after all the computing.
pub fn load_templates(templates: Option<&Path>) -> Result<tera::Tera> {
    let (md_src, html_src) = match templates {
        Some(dir) => (
            std::fs::read_to_string(dir.join("report.md"))
                .with_context(|| format!("cannot read {}/report.md", dir.display()))?,
            std::fs::read_to_string(dir.join("report.html"))
                .with_context(|| format!("cannot read {}/report.html", dir.display()))?,
        ),
        None => (MD_TEMPLATE.to_string(), HTML_TEMPLATE.to_string()),
    };
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.md", &md_src)
        .map_err(|e| anyhow::anyhow!("report.md template: {e}"))?;
    tera.add_raw_template("report.html", &html_src)
        .map_err(|e| anyhow::anyhow!("report.html template: {e}"))?;
    Ok(tera)
}

/// Renders (Markdown, HTML).
pub fn render(
    rec: &RunRecord,
    templates: Option<&Path>,
    figures: &[super::figures::Figure],
) -> Result<(String, String)> {
    let tera = load_templates(templates)?;
    // Figures: the Markdown links figures/NAME.svg, the HTML inlines the SVG
    // (plotters escapes every text it draws, so inlining is safe).
    let figs_md: Vec<(String, String)> = figures
        .iter()
        .map(|f| (md_escape(&f.title), format!("figures/{}.svg", f.name)))
        .collect();
    let figs_html: Vec<(String, String)> = figures
        .iter()
        .map(|f| (f.title.clone(), f.svg.clone()))
        .collect();
    let mut md_ctx = tera::Context::from_serialize(&context(rec, &md_escape))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    md_ctx.insert("figures", &figs_md);
    let mut html_ctx = tera::Context::from_serialize(&context(rec, &|s: &str| s.to_string()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    html_ctx.insert("figures", &figs_html);
    let md = tera
        .render("report.md", &md_ctx)
        .map_err(|e| anyhow::anyhow!("rendering report.md: {e}"))?;
    let html = tera
        .render("report.html", &html_ctx)
        .map_err(|e| anyhow::anyhow!("rendering report.html: {e}"))?;
    Ok((md, html))
}

/// The class table's rows; tracks without a label (in a partly labelled
/// dataset) get a row of their own, saying how they were scored.
fn class_rows(rec: &RunRecord, esc: &dyn Fn(&str) -> String) -> Vec<(String, usize)> {
    let mut rows: Vec<(String, usize)> = rec
        .dataset
        .classes
        .iter()
        .map(|c| (esc(&c.name), c.tracks))
        .collect();
    let unlabelled = rec
        .dataset
        .track_labels
        .iter()
        .filter(|l| l.is_none())
        .count();
    if !rows.is_empty() && unlabelled > 0 {
        rows.push((
            "(no label: clustered, left out of the external metrics)".into(),
            unlabelled,
        ));
    }
    rows
}
