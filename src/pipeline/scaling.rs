//! The standardisation of a feature matrix's audio block, kept so that
//! decoded or generated rows can be put back into feature units: per column
//! for summaries, per feature row (over every track and frame) for
//! sequences; population std, constant blocks centred and left unscaled.

use std::path::Path;

use anyhow::{Context, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The file a represent artifact keeps it in.
pub const FILE: &str = "scaling.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Consecutive columns that share one (mean, std): 1 for summaries, the
    /// frame count for row-major sequences.
    pub frames: usize,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Scaling {
    /// Standardises the first `rows · frames` columns of `x` in place, each
    /// block of `frames` columns to zero mean and unit variance over all
    /// its values, and returns what it did.
    pub fn fit_apply(x: &mut Array2<f32>, rows: usize, frames: usize) -> Scaling {
        let (mut mean, mut std) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for r in 0..rows {
            let cols = r * frames..(r + 1) * frames;
            let block = x.slice(ndarray::s![.., cols.clone()]);
            let n = block.len() as f64;
            let m = block.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = block.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
            let s = if var > 1e-24 { var.sqrt() } else { 1.0 };
            x.slice_mut(ndarray::s![.., cols])
                .mapv_inplace(|v| ((v as f64 - m) / s) as f32);
            mean.push(m);
            std.push(s);
        }
        Scaling { frames, mean, std }
    }

    /// Values per row it covers (the audio block's width).
    pub fn dim(&self) -> usize {
        self.mean.len() * self.frames
    }

    /// Back to feature units: one row's audio block (`dim()` values).
    pub fn undo(&self, row: &mut [f32]) {
        assert_eq!(row.len(), self.dim(), "the audio block's width");
        for (r, block) in row.chunks_exact_mut(self.frames).enumerate() {
            for v in block {
                *v = (*v as f64 * self.std[r] + self.mean[r]) as f32;
            }
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::write(dir.join(FILE), serde_json::to_vec(self)?)
            .with_context(|| format!("cannot write {}", dir.join(FILE).display()))
    }

    /// None when the artifact has none (features not standardised, or an
    /// artifact written before scalings were kept).
    pub fn read(dir: &Path) -> Result<Option<Scaling>> {
        let path = dir.join(FILE);
        if !path.is_file() {
            return Ok(None);
        }
        serde_json::from_slice(&std::fs::read(&path)?)
            .map(Some)
            .with_context(|| format!("corrupt cache entry {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_inverts_fit_apply() {
        let orig = ndarray::array![[1.0f32, 2.0, 10.0, 5.0], [3.0, 6.0, 10.0, 7.0]];
        // Two feature rows of two frames each: values {1, 2, 3, 6} and {10, 5, 10, 7}.
        let mut x = orig.clone();
        let s = Scaling::fit_apply(&mut x, 2, 2);
        assert_eq!(s.mean, vec![3.0, 8.0]);
        assert!((s.std[0] - 3.5f64.sqrt()).abs() < 1e-12);
        assert!((x[[0, 0]] as f64 + 2.0 / 3.5f64.sqrt()).abs() < 1e-6);
        for r in 0..2 {
            let mut row = x.row(r).to_vec();
            s.undo(&mut row);
            for (a, b) in row.iter().zip(orig.row(r)) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }
}
