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

use super::figures::{Figure, Section};
use super::listen::ListenSet;
use super::results::{CellStatus, RunRecord};
use super::table::{ranked, Agg, AggRow};
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
    /// The column the leaderboard is sorted by.
    sorted: bool,
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
    /// Mean reconstruction error over seeds (lower is better); empty for
    /// representations that do not reconstruct.
    recon: Cell,
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
    /// The leaderboard's reconstruction-error column header, when any
    /// representation reconstructs.
    recon_column: Option<String>,
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
    /// The same matrices shaded: the leaderboard metric first.
    heatmaps: Vec<Heatmap>,
    /// Short statements a reader sees first.
    summary: Vec<String>,
    /// The clusterer whose clusters colour the latent maps.
    map_clusterer: String,
    /// Tracks listed per cluster.
    listen_n: usize,
    /// The dataset has true labels.
    labelled: bool,
    listening: Vec<ListenSetRow>,
    params: Vec<ParamTableRow>,
    /// Whether the cells table is long enough to fold away in the HTML.
    fold_cells: bool,
}

#[derive(Serialize)]
struct HeatCell {
    text: String,
    /// Background and text colour (`#rrggbb`); empty when undefined.
    bg: String,
    fg: String,
    best: bool,
}

#[derive(Serialize)]
struct Heatmap {
    metric: String,
    direction: String,
    rows: Vec<(String, Vec<HeatCell>)>,
}

#[derive(Serialize)]
struct ListenTrackRow {
    id: String,
    label: String,
    label_colour: String,
    /// Player / link source relative to the report ("" when missing).
    src: String,
    /// The recorded audio path, shown when there is no player ("" when none).
    missing: String,
}

#[derive(Serialize)]
struct ListenClusterRow {
    cluster: String,
    size: usize,
    colour: String,
    matched: String,
    tracks: Vec<ListenTrackRow>,
}

#[derive(Serialize)]
struct ListenSetRow {
    cell: String,
    leading: bool,
    noise: usize,
    clusters: Vec<ListenClusterRow>,
}

#[derive(Serialize)]
struct ParamRowCtx {
    name: String,
    kind: String,
    /// (key, value, varies between components of the kind).
    settings: Vec<(String, String, bool)>,
}

#[derive(Serialize)]
struct ParamTableRow {
    stage: String,
    has_kind: bool,
    rows: Vec<ParamRowCtx>,
}

fn context(
    rec: &RunRecord,
    listening: &[ListenSet],
    esc: &dyn Fn(&str) -> String,
) -> ReportContext {
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

    let agg = ranked(rec);
    let sort = rec.sort_by.clone();
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
    // The reconstruction error beside the metrics: a collapsed latent
    // (a model that encodes nothing) shows up here first.
    let recon = super::recon::by_config(rec);
    let recon_best = recon.as_ref().and_then(|m| {
        m.values()
            .filter_map(|a| a.mean)
            .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.min(v))))
    });
    let leaderboard: Vec<LeaderRow> = agg
        .iter()
        .enumerate()
        .map(|(i, r)| LeaderRow {
            recon: {
                let a = recon.as_ref().and_then(|m| m.get(&r.config)).cloned();
                Cell {
                    best: a
                        .as_ref()
                        .is_some_and(|a| a.mean.is_some() && a.mean == recon_best),
                    sorted: false,
                    text: a
                        .filter(|a| a.n > 0)
                        .map(|a| fmt_agg(&a))
                        .unwrap_or_else(|| "—".into()),
                }
            },
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
                        sorted: *m == sort,
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
    // Representation × clusterer matrices (rows keep their feature set), in
    // the experiment's order.
    let mut row_names: Vec<String> = Vec::new();
    let mut col_names: Vec<String> = Vec::new();
    for c in &rec.cells {
        let rn = format!("{}/{}", c.feature_set, c.representation);
        if !row_names.contains(&rn) {
            row_names.push(rn);
        }
        if !col_names.contains(&c.clusterer) {
            col_names.push(c.clusterer.clone());
        }
    }
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
    let heat = heatmaps(&agg, &metrics, &sort, &row_names, &col_names, esc);
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
        // A cached rerun takes a moment; what its results cost is kept from
        // the runs that computed them.
        wall: format!(
            "{:.1} s (computing every result took {:.1} s)",
            rec.wall_seconds, rec.compute_seconds
        ),
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
        recon_column: recon.as_ref().map(|_| super::recon::COLUMN.to_string()),
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
        heatmaps: heat,
        summary: summary(rec, &agg, &sort, esc),
        map_clusterer: esc(
            &super::figures::projection::map_clusterer(rec, &agg).unwrap_or_default()
        ),
        listen_n: rec.report.listen,
        labelled: !rec.dataset.classes.is_empty(),
        listening: listening_rows(rec, listening, esc),
        params: super::params::tables(rec)
            .into_iter()
            .map(|t| ParamTableRow {
                stage: t.stage.to_string(),
                has_kind: t.has_kind,
                rows: t
                    .rows
                    .into_iter()
                    .map(|r| ParamRowCtx {
                        name: esc(&r.name),
                        kind: esc(&r.kind),
                        settings: r
                            .settings
                            .into_iter()
                            .map(|s| (esc(&s.key), esc(&s.value), s.varies))
                            .collect(),
                    })
                    .collect(),
            })
            .filter(|t| !t.rows.is_empty())
            .collect(),
        fold_cells: rec.cells.len() > 24,
        matrix_columns: col_names.iter().map(|c| esc(c)).collect(),
        matrices,
    }
}

fn config_mean(r: &AggRow, metric: &str) -> Option<(f64, Option<f64>, usize)> {
    let a = r.metrics.get(metric)?;
    Some((a.mean?, a.std, a.n))
}

fn fmt_mean(v: (f64, Option<f64>, usize)) -> String {
    match v {
        (m, Some(s), n) if n > 1 => format!("{} ± {}", fmt_num(m), fmt_num(s)),
        (m, _, _) => fmt_num(m),
    }
}

/// What a reader needs first: who leads, how the best VAE-family model
/// compares with the best baseline, how far above chance, and what ran.
fn summary(
    rec: &RunRecord,
    agg: &[AggRow],
    sort: &str,
    esc: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    let group_of = |r: &AggRow| {
        rec.cells
            .iter()
            .find(|c| c.feature_set == r.feature_set && c.representation == r.representation)
            .map(|c| c.group.clone())
            .unwrap_or_default()
    };
    let best_in = |group: &str| {
        agg.iter()
            .filter(|r| group_of(r) == group && !r.label_leak)
            .find_map(|r| Some((r, config_mean(r, sort)?)))
    };
    if let (Some((m, mv)), Some((b, bv))) = (best_in("model"), best_in("baseline")) {
        let diff = if lower_is_better(sort) {
            bv.0 - mv.0
        } else {
            mv.0 - bv.0
        };
        out.push(format!(
            "Best VAE-family model: {} ({sort} {}); best baseline: {} ({}): the model is {} by {}.",
            esc(&m.config),
            fmt_mean(mv),
            esc(&b.config),
            fmt_mean(bv),
            if diff >= 0.0 { "ahead" } else { "behind" },
            fmt_num(diff.abs())
        ));
    }
    if let Some(lead) = agg.first() {
        if let (Some(real), Some(chance)) = (
            config_mean(lead, sort),
            lead.control.get(sort).and_then(|a| a.mean),
        ) {
            out.push(format!(
                "Chance level: with the true labels shuffled, {} scores {sort} {} (against {}).",
                esc(&lead.config),
                fmt_num(chance),
                fmt_num(real.0)
            ));
        }
    }
    let configs = agg.len();
    let seeds = agg.iter().map(|r| r.seeds).max().unwrap_or(0);
    let failed = rec.failed().count();
    out.push(format!(
        "{configs} configuration{} × up to {seeds} seed{} = {} cells{}.",
        if configs == 1 { "" } else { "s" },
        if seeds == 1 { "" } else { "s" },
        rec.cells.len(),
        if failed > 0 {
            format!(", {failed} failed (listed below)")
        } else {
            ", all ok".into()
        }
    ));
    out
}

/// Representation × clusterer matrices shaded per metric: the best value
/// darkest, in the metric's own direction; the leaderboard metric first.
fn heatmaps(
    agg: &[AggRow],
    metrics: &[String],
    sort: &str,
    row_names: &[String],
    col_names: &[String],
    esc: &dyn Fn(&str) -> String,
) -> Vec<Heatmap> {
    let mut order: Vec<&String> = metrics.iter().filter(|m| *m == sort).collect();
    order.extend(metrics.iter().filter(|m| *m != sort));
    order
        .into_iter()
        .map(|m| {
            let value = |rn: &str, cn: &str| {
                agg.iter()
                    .find(|r| {
                        format!("{}/{}", r.feature_set, r.representation) == rn && r.clusterer == cn
                    })
                    .and_then(|r| r.metrics.get(m).and_then(|a| a.mean))
            };
            let mut all: Vec<f64> = Vec::new();
            for rn in row_names {
                all.extend(col_names.iter().filter_map(|cn| value(rn, cn)));
            }
            let lower = lower_is_better(m);
            let (lo, hi) = all
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let best = if lower { lo } else { hi };
            let rows = row_names
                .iter()
                .map(|rn| {
                    let cells = col_names
                        .iter()
                        .map(|cn| match value(rn, cn) {
                            Some(v) => {
                                // 1 = best, 0 = worst; one value only: the middle.
                                let t = if hi > lo {
                                    let u = (v - lo) / (hi - lo);
                                    if lower {
                                        1.0 - u
                                    } else {
                                        u
                                    }
                                } else {
                                    0.5
                                };
                                let (bg, fg) = super::colours::heat(t);
                                HeatCell {
                                    text: fmt_num(v),
                                    bg,
                                    fg: fg.to_string(),
                                    best: v == best,
                                }
                            }
                            None => HeatCell {
                                text: "—".into(),
                                bg: String::new(),
                                fg: String::new(),
                                best: false,
                            },
                        })
                        .collect();
                    (esc(rn), cells)
                })
                .collect();
            Heatmap {
                metric: m.clone(),
                direction: if lower {
                    "lower is better"
                } else {
                    "higher is better"
                }
                .into(),
                rows,
            }
        })
        .collect()
}

fn listening_rows(
    rec: &RunRecord,
    sets: &[ListenSet],
    esc: &dyn Fn(&str) -> String,
) -> Vec<ListenSetRow> {
    let classes = super::colours::class_names(rec);
    let class_colour = |label: &str| {
        classes
            .iter()
            .position(|c| c == label)
            .map(|i| super::colours::hex(super::colours::class_colour(i)))
            .unwrap_or_default()
    };
    sets.iter()
        .map(|s| ListenSetRow {
            cell: esc(&s.cell),
            leading: s.leading,
            noise: s.noise,
            clusters: s
                .clusters
                .iter()
                .map(|c| ListenClusterRow {
                    cluster: c.cluster.to_string(),
                    size: c.size,
                    colour: c.colour.clone(),
                    matched: match &c.matched {
                        Some((class, n)) => format!("{} ({n} of {})", esc(class), c.size),
                        None => "—".into(),
                    },
                    tracks: c
                        .tracks
                        .iter()
                        .map(|t| ListenTrackRow {
                            id: esc(&t.id),
                            label: esc(t.label.as_deref().unwrap_or("")),
                            label_colour: t.label.as_deref().map(class_colour).unwrap_or_default(),
                            src: t.src.clone().unwrap_or_default(),
                            missing: match (&t.src, &t.path) {
                                (None, Some(p)) => esc(p),
                                _ => String::new(),
                            },
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
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
    figures: &[Figure],
    listening: &[ListenSet],
) -> Result<(String, String)> {
    let tera = load_templates(templates)?;
    // Figures: the Markdown links figures/NAME.svg, the HTML inlines the SVG
    // (plotters escapes every text it draws, so inlining is safe). `figures`
    // holds them all; `figures_<section>` those of one report section.
    let md_fig = |f: &Figure| (md_escape(&f.title), format!("figures/{}.svg", f.name));
    let html_fig = |f: &Figure| (f.title.clone(), f.svg.clone());
    let sections = [
        ("overview", Section::Overview),
        ("maps", Section::Maps),
        ("training", Section::Training),
        ("reconstructions", Section::Reconstructions),
    ];
    let mut md_ctx = tera::Context::from_serialize(&context(rec, listening, &md_escape))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut html_ctx =
        tera::Context::from_serialize(&context(rec, listening, &|s: &str| s.to_string()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    md_ctx.insert("figures", &figures.iter().map(md_fig).collect::<Vec<_>>());
    html_ctx.insert("figures", &figures.iter().map(html_fig).collect::<Vec<_>>());
    for (name, section) in sections {
        let of = || figures.iter().filter(move |f| f.section == section);
        md_ctx.insert(
            format!("figures_{name}"),
            &of().map(md_fig).collect::<Vec<_>>(),
        );
        html_ctx.insert(
            format!("figures_{name}"),
            &of().map(html_fig).collect::<Vec<_>>(),
        );
    }
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
