//! Training curves: one small panel per trained representation (small
//! multiples keep a 96-cell study to one figure), reconstruction, KL and
//! total loss per epoch, one line per seed.

use plotters::prelude::*;

use super::legend::{self, Entry, Key};
use super::{Figure, Section};
use crate::models::EpochLoss;
use crate::report::results::RunRecord;

/// The figure's width; panels share it, at most three a row.
const WIDTH: u32 = 1020;
const PANEL_H: u32 = 280;
const HEADER: u32 = 50;
const COLS: usize = 3;

type Series = (&'static str, RGBColor, fn(&EpochLoss) -> f64);

const SERIES: [Series; 3] = [
    ("reconstruction", RGBColor(0x1f, 0x77, 0xb4), |h| {
        h.reconstruction
    }),
    ("KL", RGBColor(0xd6, 0x27, 0x28), |h| h.kl),
    ("total", RGBColor(0x33, 0x33, 0x33), |h| h.total),
];

/// A representation's name and its training histories, one per seed.
type Runs<'a> = (String, Vec<(u64, &'a Vec<EpochLoss>)>);

/// Histories grouped by representation (feature set / representation), in
/// cell order; each group's seeds in ascending order.
fn grouped(rec: &RunRecord) -> Vec<Runs<'_>> {
    let mut out: Vec<Runs> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in &rec.cells {
        let Some(key) = c.keys.get("represent") else {
            continue;
        };
        let Some(h) = rec.histories.get(key).filter(|h| !h.is_empty()) else {
            continue;
        };
        if !seen.insert(key) {
            continue;
        }
        let name = format!("{} / {}", c.feature_set, c.representation);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, runs)) => runs.push((c.seed, h)),
            None => out.push((name, vec![(c.seed, h)])),
        }
    }
    for (_, runs) in &mut out {
        runs.sort_by_key(|(seed, _)| *seed);
    }
    out
}

/// An axis label without needless digits.
fn short(v: f64) -> String {
    if v == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2e}")
    }
}

pub fn training(rec: &RunRecord) -> Option<Figure> {
    let groups = grouped(rec);
    if groups.is_empty() {
        return None;
    }
    let cols = groups.len().min(COLS);
    let rows = groups.len().div_ceil(cols);
    // A lone panel stays a readable size rather than the full width.
    let w = if cols == 1 { WIDTH / 2 } else { WIDTH };
    let h = HEADER + PANEL_H * rows as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let entries: Vec<Entry> = SERIES
            .iter()
            .map(|(name, colour, _)| Entry::new(*name, *colour, Key::Line { dashed: false }))
            .collect();
        legend::row(&root, Some("loss per epoch:"), &entries, (12, 14)).ok()?;
        let seeds = groups.iter().map(|(_, r)| r.len()).max().unwrap_or(1);
        if seeds > 1 {
            root.draw(&Text::new(
                "one line per seed (the first seed solid, the others faint)",
                (12, 34),
                TextStyle::from(("sans-serif", 14).into_font()).color(&RGBColor(0x5a, 0x64, 0x72)),
            ))
            .ok()?;
        }
        let body = root.margin(HEADER, 0, 0, 0);
        let panels = body.split_evenly((rows, cols));
        for ((name, runs), area) in groups.iter().zip(panels.iter()) {
            let epochs = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(1);
            let ymax = runs
                .iter()
                .flat_map(|(_, h)| h.iter())
                .map(|e| e.total.max(e.reconstruction).max(e.kl))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 17))
                .margin(8)
                .margin_right(22)
                .x_label_area_size(26)
                .y_label_area_size(52)
                .build_cartesian_2d(1f64..(epochs.max(2) as f64), 0f64..(ymax * 1.05).max(1e-9))
                .ok()?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(0xf0, 0xf2, 0xf5))
                .x_labels(5)
                .y_labels(5)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| short(*v))
                .label_style(("sans-serif", 13))
                .draw()
                .ok()?;
            for (i, (_, hist)) in runs.iter().enumerate() {
                let alpha = if i == 0 { 1.0 } else { 0.4 };
                for (_, colour, get) in &SERIES {
                    chart
                        .draw_series(LineSeries::new(
                            hist.iter().map(|e| (e.epoch as f64, get(e))),
                            colour.mix(alpha).stroke_width(if i == 0 { 2 } else { 1 }),
                        ))
                        .ok()?;
                }
            }
        }
        root.present().ok()?;
    }
    Some(Figure {
        name: "training_loss".into(),
        title: format!(
            "Training loss per epoch of the {} trained representation{} (reconstruction, KL and \
             total; one line per seed)",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" }
        ),
        section: Section::Training,
        svg,
    })
}
