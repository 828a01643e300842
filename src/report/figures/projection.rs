//! Latent maps: each representation's 2-D projection, coloured on the left
//! by the clusters of one clusterer and on the right by true label, each
//! with its legend. A cluster takes the colour of the class it is matched
//! to (Hungarian matching, as cluster accuracy), so where the two panels
//! agree the colours agree.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Key};
use super::{slug, DrawResult, Figure, Section};
use crate::report::colours::{self, class_names, cluster_colours, row_classes};
use crate::report::render::fmt_num;
use crate::report::results::{CellResult, CellStatus, Projected, RunRecord};
use crate::report::table::AggRow;

/// The clusterer whose clusters colour the maps: `report.projection_clusterer`
/// (a clusterer name, meaning its first label, or a label), else the
/// clusterer of the leaderboard's leading configuration.
pub fn map_clusterer(rec: &RunRecord, ranked: &[AggRow]) -> Option<String> {
    match &rec.report.projection_clusterer {
        Some(name) => rec
            .cells
            .iter()
            .map(|c| &c.clusterer)
            .find(|l| {
                *l == name
                    || l.strip_prefix(name.as_str())
                        .is_some_and(|r| r.starts_with('['))
            })
            .cloned(),
        None => ranked.first().map(|r| r.clusterer.clone()),
    }
}

/// The cell a representation's map shows: that clusterer's, at the lowest
/// seed whose latent was projected.
fn map_cell<'a>(
    rec: &'a RunRecord,
    feature_set: &str,
    representation: &str,
    clusterer: &str,
) -> Option<(&'a CellResult, &'a Projected)> {
    rec.cells
        .iter()
        .filter(|c| {
            c.status == CellStatus::Ok
                && c.feature_set == feature_set
                && c.representation == representation
                && c.clusterer == clusterer
                && !c.assignments.is_empty()
        })
        .filter_map(|c| Some((c, rec.projections.get(c.keys.get("represent")?)?)))
        .min_by_key(|(c, _)| c.seed)
}

/// One map per representation, best-ranked representation (under the
/// map clusterer) first.
pub fn maps(rec: &RunRecord, ranked: &[AggRow]) -> Vec<Figure> {
    let Some(clusterer) = map_clusterer(rec, ranked) else {
        return Vec::new();
    };
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for r in ranked.iter().filter(|r| r.clusterer == clusterer) {
        let id = (r.feature_set.as_str(), r.representation.as_str());
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if let Some((cell, proj)) = map_cell(rec, id.0, id.1, &clusterer) {
            out.extend(map_figure(rec, cell, proj));
        }
    }
    out
}

const PANEL_W: u32 = 580;
const LEGEND_W: u32 = 200;
const H: u32 = 430;

fn map_figure(rec: &RunRecord, cell: &CellResult, proj: &Projected) -> Option<Figure> {
    let n = proj.points.len();
    if cell.assignments.len() != n {
        return None;
    }
    let classes = class_names(rec);
    let truth = row_classes(rec, cell, &classes);
    let labelled = truth.len() == n && truth.iter().any(Option::is_some);
    let clusters = cluster_colours(rec, cell);

    // Cluster panel: legend in class order, then left-over clusters, then noise.
    let point_colour: Vec<RGBColor> = cell
        .assignments
        .iter()
        .map(|a| clusters.get(a).map_or(colours::NOISE, |c| c.colour))
        .collect();
    let mut order: Vec<(&i64, &colours::ClusterColour)> = clusters.iter().collect();
    order.sort_by_key(|(id, c)| (**id < 0, c.matched.is_none(), c.matched, **id));
    let cluster_entries: Vec<Entry> = order
        .iter()
        .map(|(id, c)| {
            let text = match (**id, c.matched) {
                (-1, _) => format!("noise ({})", c.size),
                (id, Some(class)) if labelled => {
                    format!("{id} → {} ({}/{})", classes[class], c.agreeing, c.size)
                }
                (id, _) if labelled => format!("{id} → no class ({})", c.size),
                (id, _) => format!("cluster {id} ({})", c.size),
            };
            Entry::new(text, c.colour, Key::Dot)
        })
        .collect();
    let noise: Vec<bool> = cell.assignments.iter().map(|&a| a < 0).collect();

    let mut svg = String::new();
    {
        let w = if labelled { 2 * PANEL_W } else { PANEL_W };
        let root = SVGBackend::with_string(&mut svg, (w, H)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (left, right) = root.split_horizontally(PANEL_W);
        panel(
            &left,
            &format!("{} clusters", cell.clusterer),
            &proj.points,
            &point_colour,
            &noise,
            if labelled {
                "cluster → class"
            } else {
                "cluster (size)"
            },
            &cluster_entries,
        )
        .ok()?;
        if labelled {
            let truth_colour: Vec<RGBColor> = truth
                .iter()
                .map(|t| t.map_or(colours::NOISE, colours::class_colour))
                .collect();
            let unlabelled: Vec<bool> = truth.iter().map(Option::is_none).collect();
            let mut entries: Vec<Entry> = classes
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let count = truth.iter().filter(|t| **t == Some(i)).count();
                    Entry::new(
                        format!("{name} ({count})"),
                        colours::class_colour(i),
                        Key::Dot,
                    )
                })
                .collect();
            let missing = unlabelled.iter().filter(|u| **u).count();
            if missing > 0 {
                entries.push(Entry::new(
                    format!("unlabelled ({missing})"),
                    colours::NOISE,
                    Key::Dot,
                ));
            }
            panel(
                &right,
                "true labels",
                &proj.points,
                &truth_colour,
                &unlabelled,
                "class (tracks)",
                &entries,
            )
            .ok()?;
        }
        root.present().ok()?;
    }
    let scores: Vec<String> = ["accuracy", "nmi_arithmetic"]
        .iter()
        .filter_map(|m| Some(format!("{m} {}", fmt_num(cell.metrics.get(*m).copied()??))))
        .collect();
    let method = match proj.method.as_str() {
        "tsne" => "t-SNE",
        "pca" => "PCA",
        other => other,
    };
    Some(Figure {
        name: format!(
            "map_{}",
            slug(&format!("{}_{}", cell.feature_set, cell.representation))
        ),
        title: format!(
            "{} / {}: 2-D {method} of the latent (seed {}), coloured by its {} clusters{}{}",
            cell.feature_set,
            cell.representation,
            cell.seed,
            cell.clusterer,
            if labelled {
                " (left; each cluster in the colour of the class it is matched to, with how \
                 many of its tracks carry that class) and by true label (right)"
            } else {
                ""
            },
            if scores.is_empty() {
                String::new()
            } else {
                format!("; {}", scores.join(", "))
            }
        ),
        section: Section::Maps,
        svg,
    })
}

/// A scatter with its legend on the right. `faint` points (noise,
/// unlabelled) are drawn first, small and grey, under the others.
fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    pts: &[[f32; 2]],
    colour: &[RGBColor],
    faint: &[bool],
    legend_title: &str,
    entries: &[Entry],
) -> DrawResult {
    let (plot, key) = area.split_horizontally(PANEL_W - LEGEND_W);
    let bounds = |axis: usize| {
        let (lo, hi) = pts
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| {
                (a.min(p[axis]), b.max(p[axis]))
            });
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad)..(hi + pad)
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 19))
        .margin(10)
        .build_cartesian_2d(bounds(0), bounds(1))?;
    // The projection's axes have no units: a frame, no ticks.
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_axes()
        .draw()?;
    chart.plotting_area().draw(&Rectangle::new(
        [
            (bounds(0).start, bounds(1).start),
            (bounds(0).end, bounds(1).end),
        ],
        RGBColor(0xcc, 0xd2, 0xda).stroke_width(1),
    ))?;
    let point = |i: usize, r: i32| {
        Circle::new(
            (pts[i][0], pts[i][1]),
            r,
            colour[i].mix(if faint[i] { 0.6 } else { 0.85 }).filled(),
        )
    };
    // Larger dots while they do not crowd each other.
    let r = if pts.len() <= 600 { 4 } else { 3 };
    chart.draw_series(
        (0..pts.len())
            .filter(|&i| faint[i])
            .map(|i| point(i, r - 1)),
    )?;
    chart.draw_series((0..pts.len()).filter(|&i| !faint[i]).map(|i| point(i, r)))?;
    let max_rows = ((H as i32 - 60) / legend::ROW) as usize;
    legend::column(&key, Some(legend_title), entries, (4, 34), max_rows)?;
    Ok(())
}
