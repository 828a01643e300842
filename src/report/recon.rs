//! Reconstructions in the results: the few tracks a figure shows (kept in
//! `results.json`, so `runner report` redraws them), and the
//! reconstruction error per configuration for the leaderboard and the
//! tables. The error itself is defined in [`crate::models::recon`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::results::{CellStatus, RunRecord};
use super::table::Agg;
use crate::dsp::FeatureShape;
use crate::models::recon::Reconstruction;
use crate::models::Layout;

/// The leaderboard column's title; lower is better.
pub const COLUMN: &str = "recon. MSE";

/// Tracks a sequence figure keeps (each is rows × frames values twice).
const SHOWN_SEQUENCES: usize = 2;
/// Significant digits kept in results.json: a heat-map or a profile cannot
/// show more, and it keeps the record small.
const DIGITS: i32 = 3;

/// The audio block of a few tracks, input and reconstruction, as figures
/// draw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconShown {
    /// Rows of the feature set (indices into `dataset.rows[feature_set]`).
    pub rows: Vec<usize>,
    /// Per track: `[1, dim]` for a summary vector, `[rows, frames]` for a
    /// sequence (row-major).
    pub shape: [usize; 2],
    pub sequence: bool,
    pub input: Vec<Vec<f32>>,
    pub output: Vec<Vec<f32>>,
}

fn round_sig(v: f32) -> f32 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powi(DIGITS - 1 - (v.abs() as f64).log10().floor() as i32);
    ((v as f64 * mag).round() / mag) as f32
}

impl ReconShown {
    /// What the figure needs of a reconstruction; None without an audio
    /// block (a lyrics-only feature set).
    pub fn new(r: &Reconstruction, layout: &Layout) -> Option<ReconShown> {
        let audio = layout.audio?;
        let (input, output) = r.audio_block(layout);
        let (shape, sequence, keep) = match audio {
            FeatureShape::Summary { dim } => ([1, dim], false, r.rows.len()),
            FeatureShape::Sequence { rows, frames } => {
                ([rows, frames], true, SHOWN_SEQUENCES.min(r.rows.len()))
            }
        };
        let rows = |a: &ndarray::Array2<f32>| -> Vec<Vec<f32>> {
            a.rows()
                .into_iter()
                .take(keep)
                .map(|row| row.iter().map(|&v| round_sig(v)).collect())
                .collect()
        };
        Some(ReconShown {
            rows: r.rows[..keep].to_vec(),
            shape,
            sequence,
            input: rows(&input),
            output: rows(&output),
        })
    }
}

/// A configuration's id: the cell id without its seed (as the leaderboard).
fn config_of(cell: &str) -> &str {
    cell.rsplit_once("/seed=").map_or(cell, |(a, _)| a)
}

/// Mean ± std (population) over seeds of the reconstruction error, per
/// configuration; None when no cell has one (no trained model or PCA).
/// For the leaderboard's [`COLUMN`], where lower is better.
pub fn by_config(rec: &RunRecord) -> Option<BTreeMap<String, Agg>> {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in &rec.cells {
        let entry = values.entry(config_of(&c.cell).to_string()).or_default();
        if let (CellStatus::Ok, Some(e)) = (c.status, c.recon_error) {
            entry.push(e.all);
        }
    }
    if values.values().all(Vec::is_empty) {
        return None;
    }
    Some(
        values
            .into_iter()
            .map(|(config, v)| {
                let n = v.len();
                let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
                let std = mean
                    .map(|m| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt());
                (config, Agg { mean, std, n })
            })
            .collect(),
    )
}

/// Per-cell table columns: `recon_error` and, with lyrics, its parts.
pub fn cell_columns(rec: &RunRecord) -> Vec<(&'static str, Vec<Option<f64>>)> {
    let cells = &rec.cells;
    let mut cols = vec![(
        "recon_error",
        cells
            .iter()
            .map(|c| c.recon_error.map(|e| e.all))
            .collect::<Vec<_>>(),
    )];
    for (name, part) in [
        (
            "recon_error.audio",
            (|e: &crate::models::recon::ReconError| e.audio)
                as fn(&crate::models::recon::ReconError) -> Option<f64>,
        ),
        ("recon_error.lyrics", |e| e.lyrics),
    ] {
        let v: Vec<Option<f64>> = cells
            .iter()
            .map(|c| c.recon_error.as_ref().and_then(part))
            .collect();
        if v.iter().any(Option::is_some) {
            cols.push((name, v));
        }
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_three_significant_digits() {
        assert_eq!(round_sig(1.23456), 1.23);
        assert_eq!(round_sig(-0.000123456), -0.000123);
        assert_eq!(round_sig(98765.0), 98800.0);
        assert_eq!(round_sig(0.0), 0.0);
    }
}
