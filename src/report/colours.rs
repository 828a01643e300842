//! Colours shared by every figure and table of the report, so one class or
//! one clusterer has one colour everywhere: classes take the categorical
//! palette in their sorted order, and each cluster takes the colour of the
//! class it is matched to (the Hungarian matching that cluster accuracy
//! scores), so "by cluster" and "by true label" can be compared by eye.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

use super::results::{CellResult, RunRecord};
use crate::cluster::metrics::Contingency;

/// Tableau 10, then its lighter partners from Tableau 20: distinct hues that
/// stay apart for common colour-vision deficiencies better than a rainbow.
const CATEGORICAL: [RGBColor; 20] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x79, 0x70, 0x6e),
    RGBColor(0xa0, 0xcb, 0xe8),
    RGBColor(0xff, 0xbe, 0x7d),
    RGBColor(0xff, 0x9d, 0x9a),
    RGBColor(0x86, 0xbc, 0xb6),
    RGBColor(0x8c, 0xd1, 0x7d),
    RGBColor(0xf1, 0xce, 0x63),
    RGBColor(0xd4, 0xa6, 0xc8),
    RGBColor(0xfa, 0xbf, 0xd2),
    RGBColor(0xd7, 0xb5, 0xa6),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Clusterers (the bar chart's series): Okabe–Ito, a palette designed to
/// stay distinguishable under colour-vision deficiencies, so it does not
/// repeat the class colours.
const SERIES: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0x44, 0x44, 0x44),
];

/// Noise points (label −1): grey, drawn under the clusters.
pub const NOISE: RGBColor = RGBColor(0xb8, 0xb8, 0xb8);

pub fn categorical(i: usize) -> RGBColor {
    CATEGORICAL[i % CATEGORICAL.len()]
}

pub fn series(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

/// `#rrggbb`, for HTML swatches.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The dataset's class names in palette order (sorted, as the record lists them).
pub fn class_names(rec: &RunRecord) -> Vec<String> {
    rec.dataset.classes.iter().map(|c| c.name.clone()).collect()
}

/// The colour of the class with this index in [`class_names`].
pub fn class_colour(class: usize) -> RGBColor {
    categorical(class)
}

/// One cluster of a cell: its colour, the class it is matched to, and how
/// many of its tracks carry that class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterColour {
    pub colour: RGBColor,
    /// Index into [`class_names`]; None for noise and left-over clusters.
    pub matched: Option<usize>,
    pub size: usize,
    /// Tracks of the cluster whose true label is the matched class.
    pub agreeing: usize,
}

/// For every cluster id of `cell` (−1 = noise), its colour and matched class.
/// Clusters left over when there are more clusters than classes take the
/// palette's colours after the classes'.
pub fn cluster_colours(rec: &RunRecord, cell: &CellResult) -> BTreeMap<i64, ClusterColour> {
    let classes = class_names(rec);
    let truth = row_classes(rec, cell, &classes);
    let ids: Vec<i64> = {
        let mut v: Vec<i64> = cell
            .assignments
            .iter()
            .copied()
            .filter(|&a| a >= 0)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // The matching sees only labelled, non-noise rows.
    let (mut t, mut p) = (Vec::new(), Vec::new());
    for (row, &a) in cell.assignments.iter().enumerate() {
        if let (Ok(col), Some(Some(class))) = (ids.binary_search(&a), truth.get(row)) {
            t.push(*class);
            p.push(col);
        }
    }
    let matching = if t.is_empty() {
        Vec::new()
    } else {
        Contingency::new(&t, &p).matching()
    };
    let mut out = BTreeMap::new();
    let mut spare = classes.len();
    for (col, &id) in ids.iter().enumerate() {
        let matched = matching.get(col).copied().flatten();
        let colour = match matched {
            Some(class) => class_colour(class),
            None => {
                spare += 1;
                categorical(spare - 1)
            }
        };
        let members = cell
            .assignments
            .iter()
            .enumerate()
            .filter(|(_, &a)| a == id);
        let size = members.clone().count();
        let agreeing = members
            .filter(|(row, _)| matched.is_some() && truth.get(*row).copied().flatten() == matched)
            .count();
        out.insert(
            id,
            ClusterColour {
                colour,
                matched,
                size,
                agreeing,
            },
        );
    }
    let noise = cell.assignments.iter().filter(|&&a| a < 0).count();
    if noise > 0 {
        out.insert(
            -1,
            ClusterColour {
                colour: NOISE,
                matched: None,
                size: noise,
                agreeing: 0,
            },
        );
    }
    out
}

/// The class index of each row of the cell's feature set (None: unlabelled).
pub fn row_classes(rec: &RunRecord, cell: &CellResult, classes: &[String]) -> Vec<Option<usize>> {
    let Some(rows) = rec.dataset.rows.get(&cell.feature_set) else {
        return Vec::new();
    };
    rows.iter()
        .map(|&r| {
            let label = rec.dataset.track_labels.get(r)?.as_deref()?;
            classes.iter().position(|c| c == label)
        })
        .collect()
}

/// Shade of a heat-map cell: `t` in [0, 1], 1 = the best value. A light to
/// dark teal ramp; returns (background, text colour) with white text on the
/// dark end so numbers stay readable.
pub fn heat(t: f64) -> (String, &'static str) {
    let t = t.clamp(0.0, 1.0);
    let (lo, hi) = ((0xf2, 0xf7, 0xf6), (0x1b, 0x6b, 0x63));
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    let c = RGBColor(mix(lo.0, hi.0), mix(lo.1, hi.1), mix(lo.2, hi.2));
    (hex(c), if t > 0.55 { "#ffffff" } else { "#1d2430" })
}
