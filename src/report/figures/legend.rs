//! Legends drawn in pixel coordinates beside or above a chart (plotters'
//! own series legend sits inside the plot, over the points).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::DrawResult;

/// How an entry's key is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key {
    Dot,
    Block,
    Line { dashed: bool },
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub label: String,
    pub colour: RGBColor,
    pub key: Key,
}

impl Entry {
    pub fn new(label: impl Into<String>, colour: RGBColor, key: Key) -> Self {
        Entry {
            label: label.into(),
            colour,
            key,
        }
    }
}

pub const FONT: (&str, u32) = ("sans-serif", 15);
pub const ROW: i32 = 20;

fn draw_key(area: &DrawingArea<SVGBackend, Shift>, e: &Entry, x: i32, y: i32) -> DrawResult {
    match e.key {
        Key::Dot => {
            area.draw(&Circle::new((x + 6, y), 5, e.colour.filled()))?;
        }
        Key::Block => {
            area.draw(&Rectangle::new(
                [(x, y - 6), (x + 12, y + 6)],
                e.colour.mix(0.85).filled(),
            ))?;
        }
        Key::Line { dashed } => {
            if dashed {
                for i in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + i * 5, y), (x + i * 5 + 3, y)],
                        e.colour.stroke_width(2),
                    ))?;
                }
            } else {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 14, y)],
                    e.colour.stroke_width(2),
                ))?;
            }
        }
    }
    Ok(())
}

fn label_style() -> TextStyle<'static> {
    TextStyle::from(FONT.into_font())
        .color(&RGBColor(0x1d, 0x24, 0x30))
        .pos(Pos::new(HPos::Left, VPos::Center))
}

/// A column of entries from (x, y) downwards, under an optional title;
/// entries past `max_rows` are summarised as "+ N more". Returns the height used.
pub fn column(
    area: &DrawingArea<SVGBackend, Shift>,
    title: Option<&str>,
    entries: &[Entry],
    (x, y): (i32, i32),
    max_rows: usize,
) -> Result<i32, Box<dyn std::error::Error>> {
    let mut cy = y + ROW / 2;
    if let Some(t) = title {
        area.draw(&Text::new(
            t.to_string(),
            (x, cy),
            label_style().color(&RGBColor(0x5a, 0x64, 0x72)),
        ))?;
        cy += ROW;
    }
    let shown = if entries.len() > max_rows {
        max_rows.saturating_sub(1)
    } else {
        entries.len()
    };
    for e in &entries[..shown] {
        draw_key(area, e, x, cy)?;
        area.draw(&Text::new(e.label.clone(), (x + 20, cy), label_style()))?;
        cy += ROW;
    }
    if shown < entries.len() {
        area.draw(&Text::new(
            format!("+ {} more", entries.len() - shown),
            (x + 20, cy),
            label_style(),
        ))?;
        cy += ROW;
    }
    Ok(cy - ROW / 2 - y)
}

/// Entries side by side from (x, y), after an optional title.
pub fn row(
    area: &DrawingArea<SVGBackend, Shift>,
    title: Option<&str>,
    entries: &[Entry],
    (x, y): (i32, i32),
) -> DrawResult {
    let style = label_style();
    let width = |s: &str| -> i32 {
        area.estimate_text_size(s, &style)
            .map(|(w, _)| w as i32)
            // Without font metrics, about 0.6 em per character.
            .unwrap_or((s.chars().count() as f64 * FONT.1 as f64 * 0.6) as i32)
    };
    let mut cx = x;
    if let Some(t) = title {
        area.draw(&Text::new(
            t.to_string(),
            (cx, y),
            style.color(&RGBColor(0x5a, 0x64, 0x72)),
        ))?;
        cx += width(t) + 10;
    }
    for e in entries {
        draw_key(area, e, cx, y)?;
        area.draw(&Text::new(e.label.clone(), (cx + 20, y), style.clone()))?;
        cx += 20 + width(&e.label) + 18;
    }
    Ok(())
}
