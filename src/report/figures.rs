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
    out.extend(reconstruction_figures(rec));
    out
}

/// One reconstruction figure per representation artifact that kept some
/// (see [`super::recon`]), in key order.
pub fn reconstruction_figures(rec: &RunRecord) -> Vec<Figure> {
    rec.reconstructions
        .keys()
        .filter_map(|k| reconstruction_figure(rec, k))
        .collect()
}

/// A few tracks' inputs next to their reconstructions (decoded from μ):
/// heat-maps (feature rows × frames, row 0 at the bottom, one colour scale
/// set by the inputs) for sequence models, overlaid profiles (value per
/// feature column) for summary vectors. The audio part only; the lyrics
/// part's error is in the tables.
pub fn reconstruction_figure(rec: &RunRecord, key: &str) -> Option<Figure> {
    let shown = rec.reconstructions.get(key)?;
    let cell = rec
        .cells
        .iter()
        .find(|c| c.keys.get("represent").map(String::as_str) == Some(key))?;
    let dataset_rows = rec.dataset.rows.get(&cell.feature_set);
    let name_of = |row: usize| -> String {
        let Some(&i) = dataset_rows.and_then(|r| r.get(row)) else {
            return format!("row {row}");
        };
        let id = rec.dataset.track_ids.get(i).cloned().unwrap_or_default();
        match rec.dataset.track_labels.get(i).and_then(|l| l.as_deref()) {
            Some(l) => format!("{id} ({l})"),
            None => id,
        }
    };
    let mse = cell
        .recon_error
        .map(|e| format!(", reconstruction MSE {:.4}", e.all))
        .unwrap_or_default();
    let title = format!(
        "{} / {} (seed {}): inputs and reconstructions{mse}",
        cell.feature_set, cell.representation, cell.seed
    );
    let svg = if shown.sequence {
        sequence_pairs_svg(shown, &title, &name_of)?
    } else {
        profiles_svg(shown, &title, &name_of)?
    };
    Some(Figure {
        name: format!(
            "recon_{}_{}",
            slug(&format!("{}_{}", cell.feature_set, cell.representation)),
            &key[..12.min(key.len())]
        ),
        title: format!(
            "{} / {} (seed {}): a few tracks' inputs and their reconstructions",
            cell.feature_set, cell.representation, cell.seed
        ),
        svg,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Input | reconstruction heat-maps, one pair per track, embedded as PNG
/// so the SVG stays small, with a colour bar.
fn sequence_pairs_svg(
    shown: &super::recon::ReconShown,
    title: &str,
    name_of: &dyn Fn(usize) -> String,
) -> Option<String> {
    use super::heatmap;
    use std::fmt::Write;
    let [rows, frames] = shown.shape;
    if rows * frames == 0 || shown.input.iter().any(|v| v.len() != rows * frames) {
        return None;
    }
    let (lo, hi) = heatmap::range(shown.input.iter().flatten());
    let (w, h) = (400usize, (rows * 3).clamp(90, 180));
    let (left, gap, top) = (10usize, 20usize, 50usize);
    let block = h + 26;
    let height = top + block * shown.input.len() + 50;
    let width = left * 2 + 2 * w + gap;
    let mut svg = String::new();
    write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
    )
    .ok()?;
    write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#).ok()?;
    write!(
        svg,
        r#"<text x="{left}" y="20" font-size="14">{}</text>"#,
        xml_escape(title)
    )
    .ok()?;
    for (x, label) in [(left, "input"), (left + w + gap, "reconstruction (from μ)")] {
        write!(
            svg,
            r##"<text x="{x}" y="40" font-size="12" fill="#444">{label}</text>"##
        )
        .ok()?;
    }
    for (i, (input, output)) in shown.input.iter().zip(&shown.output).enumerate() {
        let y = top + i * block;
        let track = shown.rows.get(i).map(|&r| name_of(r)).unwrap_or_default();
        write!(
            svg,
            r#"<text x="{left}" y="{}" font-size="12">{}</text>"#,
            y + 12,
            xml_escape(&track)
        )
        .ok()?;
        for (x, values) in [(left, input), (left + w + gap, output)] {
            let png = heatmap::png(values, rows, frames, (lo, hi), (1, 1));
            write!(
                svg,
                r#"<image x="{x}" y="{}" width="{w}" height="{h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="{}"/>"#,
                y + 18,
                heatmap::data_uri(&png)
            )
            .ok()?;
        }
    }
    // Colour bar: 64 steps from lo to hi.
    let steps: Vec<f32> = (0..64).map(|i| lo + (hi - lo) * i as f32 / 63.0).collect();
    let bar = heatmap::png(&steps, 1, 64, (lo, hi), (1, 1));
    let y = height - 36;
    write!(
        svg,
        r#"<image x="{left}" y="{y}" width="256" height="12" preserveAspectRatio="none" href="{}"/>"#,
        heatmap::data_uri(&bar)
    )
    .ok()?;
    write!(
        svg,
        r#"<text x="{left}" y="{}" font-size="11">{lo:.3}</text><text x="{}" y="{}" font-size="11" text-anchor="end">{hi:.3}</text><text x="{}" y="{}" font-size="11">value (standardised features; rows bottom to top, frames left to right)</text>"#,
        y + 26,
        left + 256,
        y + 26,
        left + 270,
        y + 10
    )
    .ok()?;
    svg.push_str("</svg>");
    Some(svg)
}

/// Input and reconstruction profiles (value per feature column), one panel
/// per track.
fn profiles_svg(
    shown: &super::recon::ReconShown,
    title: &str,
    name_of: &dyn Fn(usize) -> String,
) -> Option<String> {
    let n = shown.input.len();
    if n == 0 {
        return None;
    }
    let dim = shown.shape[1];
    let cols = if n > 1 { 2 } else { 1 };
    let grid_rows = n.div_ceil(cols);
    let (lo, hi) = super::heatmap::range(shown.input.iter().chain(&shown.output).flatten());
    let pad = (hi - lo) * 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 40 + 230 * grid_rows as u32))
            .into_drawing_area();
        root.fill(&WHITE).ok()?;
        let root = root.titled(title, ("sans-serif", 15)).ok()?;
        let panels = root.split_evenly((grid_rows, cols));
        for (i, area) in panels.iter().enumerate().take(n) {
            let track = shown.rows.get(i).map(|&r| name_of(r)).unwrap_or_default();
            let mut chart = ChartBuilder::on(area)
                .caption(track, ("sans-serif", 12))
                .margin(8)
                .x_label_area_size(22)
                .y_label_area_size(40)
                .build_cartesian_2d(0f32..(dim.max(2) - 1) as f32, (lo - pad)..(hi + pad))
                .ok()?;
            // Axes and labels without grid lines: four panels of grid
            // lines would be most of the SVG's bytes.
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("feature column")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 10))
                .draw()
                .ok()?;
            let input = chart
                .draw_series(LineSeries::new(
                    shown.input[i]
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| (j as f32, v)),
                    BLACK.stroke_width(2),
                ))
                .ok()?;
            if i == 0 {
                input.label("input").legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2))
                });
            }
            let colour = RGBColor(230, 85, 13);
            let output = chart
                .draw_series(LineSeries::new(
                    shown.output[i]
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| (j as f32, v)),
                    colour.stroke_width(2),
                ))
                .ok()?;
            if i == 0 {
                output
                    .label("reconstruction (from μ)")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 11))
                    .draw()
                    .ok()?;
            }
        }
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod recon_tests {
    use super::*;
    use crate::report::recon::ReconShown;

    fn record(shown: ReconShown) -> RunRecord {
        let mut rec: RunRecord =
            serde_json::from_str(include_str!("../../tests/fixtures/report/results.json")).unwrap();
        let key = rec.cells[0].keys["represent"].clone();
        rec.reconstructions.insert(key, shown);
        rec
    }

    #[test]
    fn sequence_reconstructions_are_heatmap_pairs() {
        let v: Vec<f32> = (0..6 * 10).map(|i| (i as f32 * 0.3).sin()).collect();
        let rec = record(ReconShown {
            rows: vec![0, 1],
            shape: [6, 10],
            sequence: true,
            input: vec![v.clone(), v.clone()],
            output: vec![v.iter().map(|x| x * 0.5).collect(), v.clone()],
        });
        let figs = reconstruction_figures(&rec);
        assert_eq!(figs.len(), 1);
        let svg = &figs[0].svg;
        assert!(figs[0].name.starts_with("recon_"));
        // Two tracks × (input, reconstruction) + the colour bar.
        assert_eq!(svg.matches("<image ").count(), 5);
        assert!(svg.contains("data:image/png;base64,"));
        assert!(svg.contains("reconstruction (from μ)"));
    }

    #[test]
    fn summary_reconstructions_are_profiles_with_a_legend() {
        let rec = record(ReconShown {
            rows: vec![0, 1, 2],
            shape: [1, 8],
            sequence: false,
            input: vec![vec![0.0, 1.0, 0.5, -1.0, 0.0, 2.0, 0.3, 0.1]; 3],
            output: vec![vec![0.1, 0.9, 0.4, -0.8, 0.1, 1.5, 0.2, 0.0]; 3],
        });
        let figs = reconstruction_figures(&rec);
        assert_eq!(figs.len(), 1);
        assert!(figs[0].svg.contains("input"));
        assert!(figs[0].svg.contains("reconstruction (from μ)"));
        assert!(figs[0].svg.contains("<polyline") || figs[0].svg.contains("<path"));
    }
}
