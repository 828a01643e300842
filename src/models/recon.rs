//! Reconstructions of a fitted model: the decoder's mean output for each
//! track decoded from μ (evaluation mode: no sampling, no dropout), its
//! error over every track, and a few tracks' inputs and outputs kept for a
//! figure.
//!
//! The error is the mean squared error per value in the space the model
//! was trained on (the standardised feature matrix), so it compares models
//! of one feature set. With a lyrics block it is also given per part: the
//! audio columns of every track and the lyrics columns of the tracks that
//! have lyrics (rows without lyrics are zeros that models mask out, so they
//! are left out of every model's lyrics error alike). A collapsed latent
//! (the decoder ignoring z) shows up as an error near the features'
//! variance, 1 for standardised features.

use std::path::Path;

use anyhow::{Context, Result};
use ndarray::{s, Array2};
use serde::{Deserialize, Serialize};

use super::Layout;

/// Tracks kept for the figure.
pub const SHOWN: usize = 4;
/// Rows decoded at a time while the error is summed.
const BATCH: usize = 256;

/// Mean squared error per value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReconError {
    /// Over every value counted (audio of every track, lyrics of tracks
    /// with lyrics).
    pub all: f64,
    /// The audio columns alone, when the feature set also has lyrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<f64>,
    /// The lyrics columns of the tracks with lyrics, when there are some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lyrics: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// Rows of the feature matrix shown (see [`shown_rows`]).
    pub rows: Vec<usize>,
    /// Their input and reconstruction: rows.len() × every column.
    pub input: Array2<f32>,
    pub output: Array2<f32>,
    pub error: ReconError,
}

/// The tracks shown: [`SHOWN`] rows evenly spaced from the first to the
/// last, so that datasets listed class by class show several classes. A
/// fixed choice, the same for every model of a feature set.
pub fn shown_rows(n: usize) -> Vec<usize> {
    if n <= SHOWN {
        return (0..n).collect();
    }
    let mut rows: Vec<usize> = (0..SHOWN)
        .map(|i| ((i * (n - 1)) as f64 / (SHOWN - 1) as f64).round() as usize)
        .collect();
    rows.dedup();
    rows
}

/// Sums of squared errors and counts, per part.
#[derive(Default)]
struct Sums {
    audio: (f64, usize),
    lyrics: (f64, usize),
}

impl Reconstruction {
    /// Decodes every row of `x` in batches with `decode` (row indices →
    /// reconstructions of those rows, in the matrix's column order) and
    /// keeps the shown rows.
    pub fn build(
        x: &Array2<f32>,
        layout: &Layout,
        mut decode: impl FnMut(&[u32]) -> Result<Array2<f32>>,
    ) -> Result<Reconstruction> {
        let (n, d) = x.dim();
        let da = layout.audio_dim();
        let text = layout.text.as_ref();
        let rows = shown_rows(n);
        let mut output = Array2::<f32>::zeros((rows.len(), d));
        let mut sums = Sums::default();
        for start in (0..n).step_by(BATCH) {
            let idx: Vec<u32> = (start as u32..(start + BATCH).min(n) as u32).collect();
            let out = decode(&idx)?;
            anyhow::ensure!(
                out.dim() == (idx.len(), d),
                "the decoder gave {:?} values for {} rows of {d}",
                out.dim(),
                idx.len()
            );
            for (b, &r) in idx.iter().enumerate() {
                let r = r as usize;
                let (xr, or) = (x.row(r), out.row(b));
                let sq = |a: usize, z: usize| -> f64 {
                    (a..z).map(|j| (or[j] as f64 - xr[j] as f64).powi(2)).sum()
                };
                sums.audio.0 += sq(0, da);
                sums.audio.1 += da;
                if text.is_some_and(|t| t.present[r]) {
                    sums.lyrics.0 += sq(da, d);
                    sums.lyrics.1 += d - da;
                }
                if let Some(k) = rows.iter().position(|&s| s == r) {
                    output.row_mut(k).assign(&or);
                }
            }
        }
        let mean = |(s, c): (f64, usize)| (c > 0).then(|| s / c as f64);
        let all = mean((sums.audio.0 + sums.lyrics.0, sums.audio.1 + sums.lyrics.1))
            .context("nothing to reconstruct: the feature matrix has no values")?;
        let error = ReconError {
            all,
            audio: text.and(mean(sums.audio)),
            lyrics: text.and(mean(sums.lyrics)),
        };
        let input = Array2::from_shape_fn((rows.len(), d), |(k, j)| x[[rows[k], j]]);
        Ok(Reconstruction {
            rows,
            input,
            output,
            error,
        })
    }

    /// Writes `recon.json` (rows shown and the error), `recon_input.npy`
    /// and `recon_output.npy` into an artifact folder.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let doc = serde_json::json!({ "rows": self.rows, "error": self.error });
        std::fs::write(dir.join(RECON_JSON), serde_json::to_vec_pretty(&doc)?)?;
        ndarray_npy::write_npy(dir.join("recon_input.npy"), &self.input)?;
        ndarray_npy::write_npy(dir.join("recon_output.npy"), &self.output)?;
        Ok(())
    }

    /// Reads what [`Reconstruction::write`] wrote; None when the artifact
    /// has no reconstruction (a `raw` baseline, or an older artifact).
    pub fn read(dir: &Path) -> Result<Option<Reconstruction>> {
        let path = dir.join(RECON_JSON);
        if !path.is_file() {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Doc {
            rows: Vec<usize>,
            error: ReconError,
        }
        let bad = || format!("corrupt cache entry {}", dir.display());
        let doc: Doc = serde_json::from_slice(&std::fs::read(&path)?).with_context(bad)?;
        let input: Array2<f32> =
            ndarray_npy::read_npy(dir.join("recon_input.npy")).with_context(bad)?;
        let output: Array2<f32> =
            ndarray_npy::read_npy(dir.join("recon_output.npy")).with_context(bad)?;
        anyhow::ensure!(
            input.dim() == output.dim() && input.nrows() == doc.rows.len(),
            "{}: reconstruction files disagree in shape",
            bad()
        );
        Ok(Some(Reconstruction {
            rows: doc.rows,
            input,
            output,
            error: doc.error,
        }))
    }

    /// The audio block of the shown rows (the figure draws the audio part).
    pub fn audio_block(&self, layout: &Layout) -> (Array2<f32>, Array2<f32>) {
        let da = layout.audio_dim().min(self.input.ncols());
        (
            self.input.slice(s![.., ..da]).to_owned(),
            self.output.slice(s![.., ..da]).to_owned(),
        )
    }
}

pub const RECON_JSON: &str = "recon.json";

/// A (batch × d) tensor as an array.
pub fn to_array(t: &candle_core::Tensor) -> Result<Array2<f32>> {
    let (r, c) = t.dims2()?;
    Ok(Array2::from_shape_vec(
        (r, c),
        t.flatten_all()?.to_vec1::<f32>()?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::TextBlock;

    #[test]
    fn shown_rows_span_the_matrix() {
        assert_eq!(shown_rows(3), vec![0, 1, 2]);
        assert_eq!(shown_rows(4), vec![0, 1, 2, 3]);
        assert_eq!(shown_rows(10), vec![0, 3, 6, 9]);
        assert_eq!(shown_rows(1000), vec![0, 333, 666, 999]);
    }

    /// The error is the mean squared error per value, split into audio and
    /// lyrics parts, lyrics counted only where a track has them.
    #[test]
    fn error_splits_by_part_and_masks_missing_lyrics() {
        // 3 tracks, 2 audio + 2 lyrics columns; track 1 has no lyrics.
        let x = ndarray::array![
            [0.0f32, 0.0, 0.5, 0.5],
            [1.0, 1.0, 0.0, 0.0],
            [2.0, 2.0, 1.0, 0.0]
        ];
        let layout = Layout {
            audio: Some(crate::dsp::FeatureShape::Summary { dim: 2 }),
            text: Some(TextBlock {
                dim: 2,
                present: vec![true, false, true],
            }),
        };
        // Output: audio off by 1 everywhere; lyrics off by 0.5 everywhere.
        let decode = |idx: &[u32]| -> Result<Array2<f32>> {
            let mut out = Array2::zeros((idx.len(), 4));
            for (b, &r) in idx.iter().enumerate() {
                for j in 0..4 {
                    out[[b, j]] = x[[r as usize, j]] + if j < 2 { 1.0 } else { 0.5 };
                }
            }
            Ok(out)
        };
        let r = Reconstruction::build(&x, &layout, decode).unwrap();
        assert_eq!(r.error.audio, Some(1.0));
        assert_eq!(r.error.lyrics, Some(0.25));
        // 6 audio values × 1 + 4 lyrics values × 0.25, over 10 values.
        assert!((r.error.all - 0.7).abs() < 1e-12);
        assert_eq!(r.rows, vec![0, 1, 2]);
        assert_eq!(r.output[[2, 0]], 3.0);
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path()).unwrap();
        assert_eq!(Reconstruction::read(dir.path()).unwrap(), Some(r));
    }
}
