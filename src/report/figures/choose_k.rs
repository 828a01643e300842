//! Choosing k: for every configuration whose clusterer chose k itself
//! (`k = { auto = [lo, hi], by = … }`), the criterion against k, one line
//! per seed with its choice marked, and the true number of classes as a
//! dashed line when the dataset is labelled. One small panel per
//! configuration.

use plotters::prelude::*;

use super::legend::{self, Entry, Key};
use super::{Figure, Section};
use crate::cluster::KChoice;
use crate::report::colours::series;
use crate::report::results::RunRecord;

const WIDTH: u32 = 1020;
const PANEL_H: u32 = 260;
const HEADER: u32 = 50;
const COLS: usize = 3;

/// A configuration and its seeds' choices, in cell order.
type Choices<'a> = (String, Vec<(u64, &'a KChoice)>);

fn grouped(rec: &RunRecord) -> Vec<Choices<'_>> {
    let mut out: Vec<Choices> = Vec::new();
    for c in &rec.cells {
        let Some(k) = &c.k_choice else { continue };
        let config = c
            .cell
            .rsplit_once("/seed=")
            .map_or(c.cell.as_str(), |(a, _)| a);
        match out.iter_mut().find(|(n, _)| n == config) {
            Some((_, v)) => v.push((c.seed, k)),
            None => out.push((config.to_string(), vec![(c.seed, k)])),
        }
    }
    out
}

/// The chosen k per seed and the true class count, in words, for the
/// caption: "chosen k 4, 4, 5 (seeds 0, 1, 2); 6 true classes".
fn summary(rec: &RunRecord, groups: &[Choices]) -> String {
    let classes = rec.dataset.classes.len();
    let lines: Vec<String> = groups
        .iter()
        .map(|(config, runs)| {
            format!(
                "{config}: k = {}",
                runs.iter()
                    .map(|(_, k)| k.chosen.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let truth = if classes > 0 {
        format!(" The dataset has {classes} true classes (dashed line).")
    } else {
        String::new()
    };
    format!(
        "Choosing k: the criterion for each k, one line per seed, the chosen k marked. {}.{truth}",
        lines.join("; ")
    )
}

pub fn choose_k(rec: &RunRecord) -> Option<Figure> {
    let groups = grouped(rec);
    if groups.is_empty() {
        return None;
    }
    let classes = rec.dataset.classes.len();
    let cols = groups.len().min(COLS);
    let rows = groups.len().div_ceil(cols);
    let w = if cols == 1 { WIDTH / 2 } else { WIDTH };
    let h = HEADER + PANEL_H * rows as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let seeds: Vec<u64> = {
            let mut s: Vec<u64> = groups
                .iter()
                .flat_map(|(_, r)| r.iter().map(|(seed, _)| *seed))
                .collect();
            s.sort();
            s.dedup();
            s
        };
        let mut entries: Vec<Entry> = seeds
            .iter()
            .enumerate()
            .map(|(i, s)| Entry::new(format!("seed {s}"), series(i), Key::Line { dashed: false }))
            .collect();
        entries.push(Entry::new("chosen k", BLACK, Key::Dot));
        if classes > 0 {
            entries.push(Entry::new(
                "true classes",
                RGBColor(0x5a, 0x64, 0x72),
                Key::Line { dashed: true },
            ));
        }
        legend::row(&root, None, &entries, (12, 14)).ok()?;
        let body = root.margin(HEADER, 0, 0, 0);
        let panels = body.split_evenly((rows, cols));
        for ((config, runs), area) in groups.iter().zip(panels.iter()) {
            let by = serde_json::to_value(runs[0].1.by)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let points = runs.iter().flat_map(|(_, k)| k.curve.iter());
            let (kmin, kmax) = points
                .clone()
                .fold((usize::MAX, 0), |(a, b), p| (a.min(p.k), b.max(p.k)));
            let values: Vec<f64> = points
                .filter_map(|p| p.value)
                .filter(|v| v.is_finite())
                .collect();
            if values.is_empty() {
                continue;
            }
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let pad = ((hi - lo) * 0.08).max(1e-9);
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{config} ({by})"), ("sans-serif", 15))
                .margin(8)
                .margin_right(22)
                .x_label_area_size(38)
                .y_label_area_size(56)
                .build_cartesian_2d(
                    (kmin as f64 - 0.3)..(kmax.max(kmin + 1) as f64 + 0.3),
                    (lo - pad)..(hi + pad),
                )
                .ok()?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(0xf0, 0xf2, 0xf5))
                .x_labels((kmax - kmin + 1).min(12))
                .y_labels(5)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .x_desc("k")
                .label_style(("sans-serif", 13))
                .draw()
                .ok()?;
            if classes > 0 && (kmin..=kmax).contains(&classes) {
                let grey = RGBColor(0x5a, 0x64, 0x72);
                let dashes = (0..20).map(|i| {
                    let t = |j: f64| lo - pad + (hi - lo + 2.0 * pad) * j / 20.0;
                    PathElement::new(
                        vec![
                            (classes as f64, t(i as f64)),
                            (classes as f64, t(i as f64 + 0.5)),
                        ],
                        grey.stroke_width(2),
                    )
                });
                chart.draw_series(dashes).ok()?;
            }
            for (seed, k) in runs {
                let i = seeds.iter().position(|s| s == seed).unwrap_or(0);
                let colour = series(i);
                let line: Vec<(f64, f64)> = k
                    .curve
                    .iter()
                    .filter_map(|p| p.value.filter(|v| v.is_finite()).map(|v| (p.k as f64, v)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(line, colour.stroke_width(2)))
                    .ok()?;
                if let Some(v) = k
                    .curve
                    .iter()
                    .find(|p| p.k == k.chosen)
                    .and_then(|p| p.value)
                {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (k.chosen as f64, v),
                            6,
                            colour.filled(),
                        )))
                        .ok()?;
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (k.chosen as f64, v),
                            6,
                            BLACK.stroke_width(1),
                        )))
                        .ok()?;
                }
            }
        }
        root.present().ok()?;
    }
    Some(Figure {
        name: "choose_k".into(),
        title: summary(rec, &groups),
        section: Section::Overview,
        svg,
    })
}
