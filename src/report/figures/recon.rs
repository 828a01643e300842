//! Reconstructions: a few tracks' inputs next to what a trained model
//! decodes from their μ, so a collapsed latent shows at a glance.

use plotters::prelude::*;

use super::{slug, Figure, Section};
use crate::report::results::RunRecord;

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
        section: Section::Reconstructions,
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
    shown: &crate::report::recon::ReconShown,
    title: &str,
    name_of: &dyn Fn(usize) -> String,
) -> Option<String> {
    use crate::report::heatmap;
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
    shown: &crate::report::recon::ReconShown,
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
    let (lo, hi) = crate::report::heatmap::range(shown.input.iter().chain(&shown.output).flatten());
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
            serde_json::from_str(include_str!("../../../tests/fixtures/report/results.json"))
                .unwrap();
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
