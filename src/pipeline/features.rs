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
use crate::models::{Layout, TextBlock};
use crate::text::{embed, LyricsSpec};

pub const STAGE: &str = "features";
/// 2: frame-major STFT kernels and the integer-factor decimator (44.1 → 22.05
/// kHz output moved by up to ~1e-5 in the passband, more near 11 kHz).
const VERSION: u32 = 2;

/// Parameters of the per-track extraction: everything but dataset-level
/// standardisation, which does not change a track's own vector.
fn extraction_params(spec: &FeatureSetSpec) -> serde_json::Value {
    let mut v = serde_json::to_value(spec).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("standardize");
    o.remove("lyrics");
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
    pub layout: crate::models::Layout,
    /// Indices into the dataset's tracks of the rows of `x`.
    pub rows: Vec<usize>,
    /// Tracks left out, with the reason.
    pub skipped: Vec<(String, String)>,
    pub seconds: f64,
    pub cache_hits: usize,
}

impl FeatureMatrix {
    /// A warning when every row is the same (e.g. DSP settings that flatten
    /// every track to one vector): the cells still run, but no clustering or
    /// score of such a matrix says anything about the tracks.
    pub fn degenerate_warning(&self, label: &str) -> Option<String> {
        let first = self.x.rows().into_iter().next()?;
        let all_same = self.x.nrows() >= 2 && self.x.rows().into_iter().all(|r| r == first);
        all_same.then(|| {
            format!(
                "feature set `{label}`: all {} tracks have identical features ({} columns), so \
                 every cell on it clusters indistinguishable points and its scores are \
                 meaningless; check the feature parameters against the audio",
                self.x.nrows(),
                self.x.ncols()
            )
        })
    }
}

/// The matrix key: the ordered per-track audio keys, standardisation, and
/// the lyrics block's key when there is one.
pub fn matrix_key(track_keys: &[Key], spec: &FeatureSetSpec, lyrics: Option<&Key>) -> Key {
    let mut b = KeyBuilder::new("feature-matrix", 2)
        .params("standardize", &serde_json::json!(spec.standardize));
    for k in track_keys {
        b = b.input("track", k);
    }
    if let Some(l) = lyrics {
        b = b.input("lyrics", l);
    }
    b.finish()
}

/// Per-track audio keys; empty when the feature set has lyrics only.
pub fn track_keys(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
) -> Vec<Key> {
    if spec.features.is_empty() {
        return Vec::new();
    }
    data.input_keys
        .iter()
        .map(|k| track_key(dataset, k, spec))
        .collect()
}

/// The content key of the embedding model folder, when the lyrics block
/// uses one (hashing the folder reads every file: do it once per run).
pub fn model_key(spec: &FeatureSetSpec) -> Result<Option<Key>> {
    match &spec.lyrics {
        Some(LyricsSpec::Embedding(e)) => Ok(Some(embed::folder_key(&e.model)?)),
        _ => Ok(None),
    }
}

/// The lyrics block's key: its parameters, every track's id and text, and
/// for embeddings the model's content key ([`model_key`]).
pub fn lyrics_key(
    spec: &FeatureSetSpec,
    data: &ResolvedDataset,
    model: Option<&Key>,
) -> Result<Option<Key>> {
    let Some(l) = &spec.lyrics else {
        return Ok(None);
    };
    let texts: Vec<(&str, Option<&str>)> = data
        .tracks
        .iter()
        .map(|t| (t.id.as_str(), t.lyrics.as_deref()))
        .collect();
    let mut b = KeyBuilder::new(LYRICS, 1)
        .params("lyrics", &serde_json::to_value(l)?)
        .params("texts", &serde_json::json!(texts));
    if let Some(m) = model {
        b = b.input("model", m);
    }
    Ok(Some(b.finish()))
}

pub const LYRICS: &str = "lyrics";
pub const EMBEDDING: &str = "embedding";

pub fn compute(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    device: &candle_core::Device,
    progress: &indicatif::ProgressBar,
) -> Result<FeatureMatrix> {
    let started = Instant::now();
    if let Some(x) = &data.precomputed {
        if spec.lyrics.is_some() {
            bail!("a precomputed dataset has no lyrics: drop `lyrics` from this feature set");
        }
        let mut x = x.clone();
        progress.inc(data.tracks.len() as u64);
        if spec.standardize {
            standardize(&mut x);
        }
        let dim = x.ncols();
        return Ok(FeatureMatrix {
            key: matrix_key(&data.input_keys, spec, None),
            x,
            layout: Layout::audio(FeatureShape::Summary { dim }),
            rows: (0..data.tracks.len()).collect(),
            skipped: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
            cache_hits: 0,
        });
    }
    let (x, rows, skipped, used_keys, hits) = if spec.features.is_empty() {
        progress.inc(data.tracks.len() as u64);
        let n = data.tracks.len();
        (
            Array2::zeros((n, 0)),
            (0..n).collect(),
            Vec::new(),
            Vec::new(),
            0,
        )
    } else {
        audio_block(dataset, data, spec, store, progress)?
    };
    let model = model_key(spec)?;
    let lyrics_key = lyrics_key(spec, data, model.as_ref())?;
    let (x, layout) = match &spec.lyrics {
        None => (x, Layout::audio(spec.shape())),
        Some(l) => {
            let (text, present) = lyrics_block(l, data, &rows, model.as_ref(), store, device)
                .context("lyrics features")?;
            let layout = Layout {
                audio: spec.audio_shape(),
                text: Some(TextBlock {
                    dim: text.ncols(),
                    present,
                }),
            };
            (
                ndarray::concatenate(ndarray::Axis(1), &[x.view(), text.view()])?,
                layout,
            )
        }
    };
    Ok(FeatureMatrix {
        key: matrix_key(&used_keys, spec, lyrics_key.as_ref()),
        x,
        layout,
        rows,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
        cache_hits: hits,
    })
}

type AudioBlock = (
    Array2<f32>,
    Vec<usize>,
    Vec<(String, String)>,
    Vec<Key>,
    usize,
);

/// Per-track audio features (cached), the usable rows, the skipped tracks.
fn audio_block(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    progress: &indicatif::ProgressBar,
) -> Result<AudioBlock> {
    let params = dataset.decode_params();
    let extractor = Extractor::new(spec, params.sample_rate);
    let keys = track_keys(dataset, data, spec);
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
    Ok((x, rows, skipped, used_keys, hits))
}

/// The lyrics columns of the given rows and whether each track has lyrics.
/// TF-IDF is fitted on the tracks that have lyrics; the others get zero rows
/// and `present = false`, so models can mask them.
fn lyrics_block(
    spec: &LyricsSpec,
    data: &ResolvedDataset,
    rows: &[usize],
    model: Option<&Key>,
    store: &Store,
    device: &candle_core::Device,
) -> Result<(Array2<f32>, Vec<bool>)> {
    let texts: Vec<Option<&str>> = rows
        .iter()
        .map(|&i| {
            data.tracks[i]
                .lyrics
                .as_deref()
                .filter(|t| !t.trim().is_empty())
        })
        .collect();
    let present: Vec<bool> = texts.iter().map(|t| t.is_some()).collect();
    let with: Vec<usize> = (0..rows.len()).filter(|&r| present[r]).collect();
    if with.is_empty() {
        bail!(
            "no track has lyrics (they are read from a .txt beside each audio file with the same \
             stem, or from a manifest's lyrics / lyrics_path column)"
        );
    }
    let vectors: Vec<Vec<f32>> = match spec {
        LyricsSpec::Tfidf(p) => {
            let docs: Vec<Vec<String>> =
                with.iter().map(|&r| p.tokens(texts[r].unwrap())).collect();
            let t = p.fit_transform(&docs).map_err(anyhow::Error::msg)?;
            t.x.rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as f32).collect())
                .collect()
        }
        LyricsSpec::Embedding(p) => {
            let model = model.context("the embedding model's key was not computed")?;
            let keys: Vec<Key> = with
                .iter()
                .map(|&r| {
                    KeyBuilder::new(EMBEDDING, 1)
                        .input("model", model)
                        .params("max_length", &serde_json::json!(p.max_length))
                        .bytes("text", texts[r].unwrap().as_bytes())
                        .finish()
                })
                .collect();
            let todo: Vec<usize> = (0..with.len())
                .filter(|&i| !store.contains(EMBEDDING, &keys[i]))
                .collect();
            if !todo.is_empty() {
                let embedder = embed::Embedder::load(p, device)?;
                let batch: Vec<String> = todo
                    .iter()
                    .map(|&i| texts[with[i]].unwrap().to_string())
                    .collect();
                let out = embedder.embed(&batch)?;
                for (&i, v) in todo.iter().zip(&out) {
                    store.get_or_build(EMBEDDING, &keys[i], |tmp| {
                        write_vector(&tmp.join("x.npy"), v)
                    })?;
                }
            }
            keys.iter()
                .map(|k| {
                    let dir = store
                        .lookup(EMBEDDING, k)
                        .context("embedding vanished from the cache")?;
                    read_vector(&dir.join("x.npy"))
                })
                .collect::<Result<_>>()?
        }
    };
    let dim = vectors[0].len();
    let mut x = Array2::<f32>::zeros((rows.len(), dim));
    for (&r, v) in with.iter().zip(&vectors) {
        x.row_mut(r)
            .assign(&ndarray::ArrayView1::from(v.as_slice()));
    }
    Ok((x, present))
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
