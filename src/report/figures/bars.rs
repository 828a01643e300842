//! The leaderboard metric per configuration as horizontal bars: best at the
//! top, every configuration named (horizontal bars leave room for long
//! names), coloured by clusterer with a legend, the std over seeds as error
//! bars and the mean printed at the end of each bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Entry, Key};
use super::{slug, Figure, Section};
use crate::report::colours;
use crate::report::render::{fmt_num, lower_is_better};
use crate::report::results::RunRecord;
use crate::report::table::AggRow;

/// Clusterer labels in the order the cells first name them (a stable
/// colour per clusterer across figures).
pub fn clusterer_order(rec: &RunRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &rec.cells {
        if !out.contains(&c.clusterer) {
            out.push(c.clusterer.clone());
        }
    }
    out
}

const ROW: u32 = 26;
const HEADER: u32 = 70;
const AXIS: u32 = 50;

pub fn bars(rec: &RunRecord, ranked: &[AggRow]) -> Option<Figure> {
    let metric = &rec.sort_by;
    let rows: Vec<(&AggRow, f64, f64)> = ranked
        .iter()
        .filter_map(|r| {
            let a = r.metrics.get(metric)?;
            Some((r, a.mean?, a.std.unwrap_or(0.0)))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let clusterers = clusterer_order(rec);
    let colour =
        |name: &str| colours::series(clusterers.iter().position(|c| c == name).unwrap_or(0));
    let label = |r: &AggRow| {
        if r.label_leak {
            format!("{} ⚠", r.config)
        } else {
            r.config.clone()
        }
    };
    let n = rows.len();
    let longest = rows
        .iter()
        .map(|(r, _, _)| label(r).chars().count())
        .max()
        .unwrap_or(10);
    // About 7.5 px per character at 12 px; clamped so the bars keep room.
    let label_w = (longest as f64 * 7.5) as u32 + 16;
    let label_w = label_w.clamp(120, 500);
    let (w, h) = (980u32, HEADER + ROW * n as u32 + AXIS);
    let lo = rows.iter().map(|r| r.1 - r.2).fold(0.0, f64::min);
    let hi = rows.iter().map(|r| r.1 + r.2).fold(0.0, f64::max);
    let span = (hi - lo).max(1e-9);
    // Room on the right for the printed means.
    let x_range = (lo - if lo < 0.0 { 0.04 * span } else { 0.0 })..(hi + 0.12 * span);
    let seeds = rows.iter().map(|r| r.0.seeds).max().unwrap_or(1);
    let direction = if lower_is_better(metric) {
        "lower is better"
    } else {
        "higher is better"
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        root.draw(&Text::new(
            format!("{metric} per configuration ({direction}), best first"),
            (12, 18),
            TextStyle::from(("sans-serif", 20).into_font().style(FontStyle::Bold))
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .ok()?;
        let entries: Vec<Entry> = clusterers
            .iter()
            .map(|c| Entry::new(c.clone(), colour(c), Key::Block))
            .collect();
        legend::row(&root, Some("clusterer:"), &entries, (12, 48)).ok()?;
        let body = root.margin(HEADER, 0, 0, 16);
        let mut chart = ChartBuilder::on(&body)
            .x_label_area_size(AXIS)
            .y_label_area_size(label_w)
            // Plotters' integer ranges include their end: 0..n − 1 is n segments.
            .build_cartesian_2d(x_range, (0..n - 1).into_segmented())
            .ok()?;
        // Segment p (from the bottom) holds rank n − p, so rank 1 is on top.
        let at = |rank: usize| n - 1 - rank;
        let names: Vec<String> = rows.iter().map(|(r, _, _)| label(r)).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(0xee, 0xf0, 0xf3))
            .bold_line_style(RGBColor(0xdd, 0xe1, 0xe6))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(p) if *p < n => names[n - 1 - *p].clone(),
                _ => String::new(),
            })
            .x_desc(if seeds > 1 {
                format!("{metric}: mean over seeds (error bars: std over up to {seeds} seeds)")
            } else {
                format!("{metric} (one seed)")
            })
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .draw()
            .ok()?;
        chart
            .draw_series(rows.iter().enumerate().map(|(rank, (r, mean, _))| {
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(at(rank))),
                        (*mean, SegmentValue::Exact(at(rank) + 1)),
                    ],
                    colour(&r.clusterer).mix(0.85).filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bar
            }))
            .ok()?;
        chart
            .draw_series(rows.iter().enumerate().map(|(rank, (_, mean, std))| {
                ErrorBar::new_horizontal(
                    SegmentValue::CenterOf(at(rank)),
                    mean - std,
                    *mean,
                    mean + std,
                    RGBColor(0x22, 0x22, 0x22).stroke_width(1),
                    8,
                )
            }))
            .ok()?;
        chart
            .draw_series(rows.iter().enumerate().map(|(rank, (_, mean, std))| {
                Text::new(
                    fmt_num(*mean),
                    (
                        mean.max(mean + std) + 0.01 * span,
                        SegmentValue::CenterOf(at(rank)),
                    ),
                    TextStyle::from(("sans-serif", 14).into_font())
                        .color(&RGBColor(0x33, 0x3a, 0x44))
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(Figure {
        name: format!("bars_{}", slug(metric)),
        title: format!(
            "{metric} per configuration, best first ({direction}); bars are the mean over seeds, \
             coloured by clusterer; error bars the std over seeds"
        ),
        section: Section::Overview,
        svg,
    })
}
