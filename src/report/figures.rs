//! Figures as SVG (plotters): each latent's 2-D projection coloured by
//! cluster and by true label side by side, training loss curves, and the
//! leaderboard metric as bars with error bars across seeds. Drawn from the
//! results record alone, so `runner report` redraws them.

use plotters::prelude::*;

use super::results::RunRecord;
use super::table::aggregate;

pub struct Figure {
    /// File stem under figures/.
    pub name: String,
    pub title: String,
    pub svg: String,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn scatter(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    pts: &[[f32; 2]],
    colour: &[usize],
) -> DrawResult {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
    );
    for p in pts {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let pad = |a: f32, b: f32| ((b - a) * 0.05).max(1e-6);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(20)
        .y_label_area_size(36)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .label_style(("sans-serif", 10))
        .draw()?;
    chart.draw_series(
        pts.iter()
            .zip(colour)
            .map(|(p, &c)| Circle::new((p[0], p[1]), 3, Palette99::pick(c).mix(0.8).filled())),
    )?;
    Ok(())
}

fn projection_figure(rec: &RunRecord, key: &str) -> Option<Figure> {
    let proj = rec.projections.get(key)?;
    let cell = rec.cells.iter().find(|c| {
        c.keys.get("represent").map(String::as_str) == Some(key) && !c.assignments.is_empty()
    })?;
    let rows = rec.dataset.rows.get(&cell.feature_set)?;
    if rows.len() != proj.points.len() || cell.assignments.len() != rows.len() {
        return None;
    }
    let mut classes: Vec<&str> = rows
        .iter()
        .filter_map(|&r| rec.dataset.track_labels.get(r)?.as_deref())
        .collect();
    classes.sort();
    classes.dedup();
    let truth: Vec<usize> = rows
        .iter()
        .map(|&r| {
            rec.dataset
                .track_labels
                .get(r)
                .and_then(|l| l.as_deref())
                .and_then(|l| classes.binary_search(&l).ok())
                .unwrap_or(0)
        })
        .collect();
    // Noise (−1) gets its own colour after the clusters.
    let max = cell.assignments.iter().copied().max().unwrap_or(0).max(0) as usize;
    let clusters: Vec<usize> = cell
        .assignments
        .iter()
        .map(|&a| if a < 0 { max + 1 } else { a as usize })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (left, right) = root.split_horizontally(450);
        scatter(
            &left,
            &format!("{} by cluster ({})", cell.clusterer, proj.method),
            &proj.points,
            &clusters,
        )
        .ok()?;
        scatter(
            &right,
            &format!("by true label ({} classes)", classes.len()),
            &proj.points,
            &truth,
        )
        .ok()?;
        root.present().ok()?;
    }
    let short = &key[..12.min(key.len())];
    Some(Figure {
        name: format!(
            "latent_{}_{short}",
            slug(&format!("{}_{}", cell.feature_set, cell.representation))
        ),
        title: format!(
            "{} / {} (seed {}): 2-D {} of the latent",
            cell.feature_set, cell.representation, cell.seed, proj.method
        ),
        svg,
    })
}

fn loss_figure(rec: &RunRecord, key: &str) -> Option<Figure> {
    let hist = rec.histories.get(key)?;
    let cell = rec
        .cells
        .iter()
        .find(|c| c.keys.get("represent").map(String::as_str) == Some(key))?;
    let ymax = hist
        .iter()
        .map(|h| h.total.max(h.reconstruction).max(h.kl))
        .fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (600, 320)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} / {} (seed {}): training loss",
                    cell.feature_set, cell.representation, cell.seed
                ),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(
                1f64..(hist.len().max(2) as f64),
                0f64..(ymax * 1.05).max(1e-9),
            )
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .label_style(("sans-serif", 10))
            .draw()
            .ok()?;
        for (name, colour, get) in [
            (
                "reconstruction",
                BLUE,
                (|h: &crate::models::EpochLoss| h.reconstruction)
                    as fn(&crate::models::EpochLoss) -> f64,
            ),
            ("KL", RED, |h| h.kl),
            ("total", BLACK, |h| h.total),
        ] {
            chart
                .draw_series(LineSeries::new(
                    hist.iter().map(|h| (h.epoch as f64, get(h))),
                    colour.stroke_width(2),
                ))
                .ok()?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(Figure {
        name: format!(
            "loss_{}_{}",
            slug(&format!("{}_{}", cell.feature_set, cell.representation)),
            &key[..12.min(key.len())]
        ),
        title: format!(
            "{} / {} (seed {}): loss per epoch",
            cell.feature_set, cell.representation, cell.seed
        ),
        svg,
    })
}

fn bars_figure(rec: &RunRecord) -> Option<Figure> {
    let metric = &rec.sort_by;
    let rows: Vec<(String, f64, f64)> = aggregate(rec)
        .into_iter()
        .filter_map(|r| {
            let a = r.metrics.get(metric)?;
            Some((r.config, a.mean?, a.std.unwrap_or(0.0)))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let lo = rows.iter().map(|r| r.1 - r.2).fold(0.0, f64::min);
    let hi = rows
        .iter()
        .map(|r| r.1 + r.2)
        .fold(f64::NEG_INFINITY, f64::max)
        .max(1e-9);
    let mut svg = String::new();
    {
        let h = 60 + 28 * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (700, h.max(160))).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = rows.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{metric}: mean ± std over seeds"),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(25)
            .y_label_area_size(220)
            .build_cartesian_2d(lo * 1.05..hi * 1.05, (0..n).into_segmented())
            .ok()?;
        let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style(("sans-serif", 11))
            .draw()
            .ok()?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (r.1, SegmentValue::Exact(i + 1)),
                    ],
                    Palette99::pick(i).mix(0.7).filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bar
            }))
            .ok()?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                PathElement::new(
                    vec![
                        (r.1 - r.2, SegmentValue::CenterOf(i)),
                        (r.1 + r.2, SegmentValue::CenterOf(i)),
                    ],
                    BLACK.stroke_width(2),
                )
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(Figure {
        name: format!("bars_{}", slug(metric)),
        title: format!("{metric} per configuration (error bars: std over seeds)"),
        svg,
    })
}

/// Every figure for a record, in report order.
pub fn figures(rec: &RunRecord) -> Vec<Figure> {
    let mut out = Vec::new();
    out.extend(bars_figure(rec));
    for key in rec.projections.keys() {
        out.extend(projection_figure(rec, key));
    }
    for key in rec.histories.keys() {
        out.extend(loss_figure(rec, key));
    }
    out
}
