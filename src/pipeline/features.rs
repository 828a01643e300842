//! The decode + features stages: one cached vector per (track, feature set),
//! computed in parallel across tracks; then the dataset matrix, optionally
//! standardised column by column.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::dataset::ResolvedDataset;
use crate::audio::decode_file;
use crate::cache::{Key, KeyBuilder, Store};
use crate::data::{DatasetSpec, OnError};
use crate::dsp::{Extractor, FeatureSetSpec, FeatureShape};

pub const STAGE: &str = "features";
const VERSION: u32 = 1;

/// Parameters of the per-track extraction: everything but dataset-level
/// standardisation, which does not change a track's own vector.
fn extraction_params(spec: &FeatureSetSpec) -> serde_json::Value {
    let mut v = serde_json::to_value(spec).unwrap();
    v.as_object_mut().unwrap().remove("standardize");
    v
}

pub fn track_key(dataset: &DatasetSpec, input: &Key, spec: &FeatureSetSpec) -> Key {
    KeyBuilder::new(STAGE, VERSION)
        .params(
            "decode",
            &serde_json::to_value(dataset.decode_params()).unwrap(),
        )
        .params("min_duration", &serde_json::json!(dataset.min_duration()))
        .params(
            "pad_short_clips",
            &serde_json::json!(dataset.pad_short_clips()),
        )
        .input("audio", input)
        .params("features", &extraction_params(spec))
        .finish()
}

/// The dataset's feature matrix for one feature set.
pub struct FeatureMatrix {
    pub key: Key,
    pub x: Array2<f32>,
    /// Indices into the dataset's tracks of the rows of `x`.
    pub rows: Vec<usize>,
    /// Tracks left out, with the reason.
    pub skipped: Vec<(String, String)>,
    pub seconds: f64,
    pub cache_hits: usize,
}

/// The matrix key: the ordered per-track keys plus standardisation.
pub fn matrix_key(track_keys: &[Key], spec: &FeatureSetSpec) -> Key {
    let mut b = KeyBuilder::new("feature-matrix", 1)
        .params("standardize", &serde_json::json!(spec.standardize));
    for k in track_keys {
        b = b.input("track", k);
    }
    b.finish()
}

pub fn compute(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    progress: &indicatif::ProgressBar,
) -> Result<FeatureMatrix> {
    let started = Instant::now();
    let params = dataset.decode_params();
    let extractor = Extractor::new(spec, params.sample_rate);
    let keys: Vec<Key> = data
        .input_keys
        .iter()
        .map(|k| track_key(dataset, k, spec))
        .collect();
    let outcomes: Vec<(Result<Vec<f32>>, bool)> = data
        .tracks
        .par_iter()
        .zip(keys.par_iter())
        .map(|(track, key)| {
            let out = match store.lookup(STAGE, key) {
                Some(dir) => (read_vector(&dir.join("x.npy")), true),
                None => {
                    let r = extract_track(&track.path, dataset, &extractor).and_then(|v| {
                        store.publish(STAGE, key, |tmp| write_vector(&tmp.join("x.npy"), &v))?;
                        Ok(v)
                    });
                    (r, false)
                }
            };
            progress.inc(1);
            out
        })
        .collect();

    let mut rows = Vec::new();
    let mut vectors = Vec::new();
    let mut skipped = Vec::new();
    let mut used_keys = Vec::new();
    let mut hits = 0;
    for (i, (r, cached)) in outcomes.into_iter().enumerate() {
        hits += cached as usize;
        match r {
            Ok(v) => {
                rows.push(i);
                vectors.push(v);
                used_keys.push(keys[i]);
            }
            Err(e) => {
                let path = data.tracks[i].path.display().to_string();
                if dataset.on_error() == OnError::Fail {
                    bail!("{path}: {e:#}");
                }
                skipped.push((data.tracks[i].id.clone(), format!("{e:#}")));
            }
        }
    }
    if vectors.len() < 2 {
        let why = skipped
            .first()
            .map(|(t, r)| format!(" ({} skipped, e.g. {t}: {r})", skipped.len()))
            .unwrap_or_default();
        bail!(
            "only {} usable track(s) for this feature set: need at least 2{why}",
            vectors.len()
        );
    }
    let dim = vectors[0].len();
    let mut x = Array2::<f32>::zeros((vectors.len(), dim));
    for (mut row, v) in x.rows_mut().into_iter().zip(&vectors) {
        row.assign(&Array1::from(v.clone()));
    }
    if spec.standardize {
        match spec.shape() {
            FeatureShape::Summary { .. } => standardize(&mut x),
            // A sequence's columns are (row, frame) pairs: scale each feature
            // row over all tracks and frames, keeping the time structure.
            FeatureShape::Sequence { rows, frames } => standardize_rows(&mut x, rows, frames),
        }
    }
    Ok(FeatureMatrix {
        key: matrix_key(&used_keys, spec),
        x,
        rows,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
        cache_hits: hits,
    })
}

fn extract_track(path: &Path, dataset: &DatasetSpec, extractor: &Extractor) -> Result<Vec<f32>> {
    let mut decoded = decode_file(path, &dataset.decode_params())?;
    let sr = decoded.sample_rate as f64;
    let seconds = decoded.samples.len() as f64 / sr;
    if seconds < dataset.min_duration() {
        if !dataset.pad_short_clips() {
            bail!(
                "clip is {seconds:.2} s long, shorter than min_duration = {} s",
                dataset.min_duration()
            );
        }
        decoded
            .samples
            .resize((dataset.min_duration() * sr).ceil() as usize, 0.0);
    }
    let v = extractor
        .vector(&decoded.samples)
        .map_err(anyhow::Error::msg)?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        bail!("feature {i} is not finite");
    }
    Ok(v)
}

/// Zero mean, unit variance per column (population std; constant columns
/// are centred and left unscaled).
pub fn standardize(x: &mut Array2<f32>) {
    // A column is a "row" of one frame.
    let cols = x.ncols();
    standardize_rows(x, cols, 1);
}

/// Zero mean, unit variance per feature row of row-major sequences.
pub fn standardize_rows(x: &mut Array2<f32>, rows: usize, frames: usize) {
    for r in 0..rows {
        let cols = r * frames..(r + 1) * frames;
        let block = x.slice(ndarray::s![.., cols.clone()]);
        let n = block.len() as f64;
        let mean = block.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = block
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = if var > 1e-24 { var.sqrt() } else { 1.0 };
        x.slice_mut(ndarray::s![.., cols])
            .mapv_inplace(|v| ((v as f64 - mean) / std) as f32);
    }
}

pub fn write_vector(path: &Path, v: &[f32]) -> Result<()> {
    ndarray_npy::write_npy(path, &Array1::from(v.to_vec()))
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_vector(path: &Path) -> Result<Vec<f32>> {
    let a: Array1<f32> = ndarray_npy::read_npy(path)
        .with_context(|| format!("corrupt cache entry {}", path.display()))?;
    Ok(a.to_vec())
}
