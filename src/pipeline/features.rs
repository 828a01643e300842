//! The decode + features stages: one cached vector per (track, feature set),
//! computed in parallel across tracks; then the dataset matrix, optionally
//! standardised column by column. A track that cannot be used (a corrupt
//! file, a clip too short) is cached too, as its reason, so a rerun neither
//! decodes it again nor counts it as work to do.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::dataset::ResolvedDataset;
use super::graph::{self, EMBEDDING, FEATURES};
use crate::audio::decode_file;
use crate::cache::{Key, Store};
use crate::data::{DatasetSpec, OnError};
use crate::dsp::{Extractor, FeatureSetSpec, FeatureShape};
use crate::models::{Layout, TextBlock};
use crate::text::{embed, LyricsSpec};

/// A failed track's artifact holds this file (the reason) instead of `x.npy`.
pub const ERROR_FILE: &str = "error.txt";
const VECTOR_FILE: &str = "x.npy";

/// The dataset's feature matrix for one feature set.
pub struct FeatureMatrix {
    /// One row per track, or per window of a segmented set.
    pub x: Array2<f32>,
    /// For a segmented set, each row's track as an index into `rows`;
    /// None when rows are tracks.
    pub windows: Option<Vec<usize>>,
    pub layout: crate::models::Layout,
    /// Indices into the dataset's tracks of the rows of `x`.
    pub rows: Vec<usize>,
    /// Tracks left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Seconds the extraction cost when it was computed (cached tracks
    /// count what they cost then).
    pub seconds: f64,
    /// Tracks that came from the cache.
    pub cache_hits: usize,
    /// How the audio block was standardised (None: it was not).
    pub scaling: Option<super::scaling::Scaling>,
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
                "feature set `{label}`: all {} {} have identical features ({} columns), so \
                 every cell on it clusters indistinguishable points and its scores are \
                 meaningless; check the feature parameters against the audio",
                self.x.nrows(),
                if self.windows.is_some() {
                    "windows"
                } else {
                    "tracks"
                },
                self.x.ncols()
            )
        })
    }
}

/// Whether a feature set's missing tracks are extracted (a normal run) or
/// reported missing (a report job, which computes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Extract,
    Fail,
}

pub fn compute(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    device: &candle_core::Device,
    progress: &indicatif::ProgressBar,
    missing: Missing,
) -> Result<FeatureMatrix> {
    let started = Instant::now();
    if let Some(x) = &data.precomputed {
        if spec.lyrics.is_some() {
            bail!("a precomputed dataset has no lyrics: drop `lyrics` from this feature set");
        }
        let mut x = x.clone();
        progress.inc(data.tracks.len() as u64);
        let scaling = spec.standardize.then(|| standardize(&mut x));
        let dim = x.ncols();
        return Ok(FeatureMatrix {
            x,
            windows: None,
            layout: Layout::audio(FeatureShape::Summary { dim }),
            rows: (0..data.tracks.len()).collect(),
            skipped: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
            cache_hits: 0,
            scaling,
        });
    }
    let (x, windows, rows, skipped, seconds, hits, scaling) = if spec.features.is_empty() {
        progress.inc(data.tracks.len() as u64);
        let n = data.tracks.len();
        (
            Array2::zeros((n, 0)),
            None,
            (0..n).collect(),
            Vec::new(),
            0.0,
            0,
            None,
        )
    } else {
        audio_block(dataset, data, spec, store, progress, missing)?
    };
    let model = graph::model_key(spec)?;
    let mut lyrics_seconds = 0.0;
    let (x, layout) = match &spec.lyrics {
        None => (x, Layout::audio(spec.shape())),
        Some(l) => {
            let lyrics_started = Instant::now();
            let (text, present) = lyrics_block(l, data, &rows, model.as_ref(), store, device)
                .context("lyrics features")?;
            // Each window carries its track's lyrics.
            let (text, present) = match &windows {
                None => (text, present),
                Some(w) => (
                    text.select(ndarray::Axis(0), w),
                    w.iter().map(|&r| present[r]).collect(),
                ),
            };
            let layout = Layout {
                audio: spec.audio_shape(),
                text: Some(TextBlock {
                    dim: text.ncols(),
                    present,
                }),
            };
            lyrics_seconds = lyrics_started.elapsed().as_secs_f64();
            (
                ndarray::concatenate(ndarray::Axis(1), &[x.view(), text.view()])?,
                layout,
            )
        }
    };
    Ok(FeatureMatrix {
        x,
        windows,
        layout,
        rows,
        skipped,
        // The tracks' own compute time, plus the lyrics block, which is
        // assembled (from cached embeddings, or by TF-IDF) on every run.
        seconds: seconds + lyrics_seconds,
        cache_hits: hits,
        scaling,
    })
}

/// One track's outcome: its vectors (one, or one per window) or why it is
/// unusable.
type TrackOutcome = Result<Vec<Vec<f32>>, String>;

/// Extracts (or reads from the cache) the features of the tracks `which`
/// selects; failures are published as their reason. Returns per selected
/// track its outcome, whether it was cached, and its compute seconds.
pub fn extract_tracks(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    progress: &indicatif::ProgressBar,
    missing: Missing,
    which: impl Fn(usize) -> bool + Sync,
) -> Result<Vec<(usize, TrackOutcome, bool, f64)>> {
    let params = dataset.decode_params();
    let extractor = Extractor::new(spec, params.sample_rate);
    let keys = graph::track_keys(dataset, data, spec);
    let dim = spec.shape().dim();
    let load = |dir: &Path| -> Result<TrackOutcome> {
        if let Ok(reason) = std::fs::read_to_string(dir.join(ERROR_FILE)) {
            return Ok(Err(reason));
        }
        let m: Array2<f32> = ndarray_npy::read_npy(dir.join(VECTOR_FILE))
            .with_context(|| format!("{VECTOR_FILE} is unreadable"))?;
        anyhow::ensure!(
            m.ncols() == dim && m.nrows() >= 1,
            "{VECTOR_FILE} is {} x {}, this feature set makes vectors of {dim}",
            m.nrows(),
            m.ncols()
        );
        anyhow::ensure!(
            spec.segment.is_some() || m.nrows() == 1,
            "{VECTOR_FILE} has {} windows, this feature set has none",
            m.nrows()
        );
        Ok(Ok(m.rows().into_iter().map(|r| r.to_vec()).collect()))
    };
    let todo: Vec<usize> = (0..keys.len()).filter(|&t| which(t)).collect();
    todo.par_iter()
        .map(|&t| {
            let key = &keys[t];
            let track = &data.tracks[t];
            let out = match missing {
                Missing::Extract => store.load_or_build(
                    FEATURES,
                    key,
                    |tmp| match extract_track(&track.path, dataset, &extractor) {
                        Ok(v) => write_windows(&tmp.join(VECTOR_FILE), &v),
                        Err(e) => std::fs::write(tmp.join(ERROR_FILE), format!("{e:#}"))
                            .context("cannot record the failure"),
                    },
                    load,
                ),
                Missing::Fail => match store.lookup(FEATURES, key) {
                    Some(a) => load(&a.dir).map(|v| (v, a)),
                    None => Err(anyhow::anyhow!(
                        "features of {} are not in the cache (its features task did not run or \
                         did not finish)",
                        track.id
                    )),
                },
            };
            progress.inc(1);
            out.map(|(v, a)| (t, v, a.cached, a.seconds))
        })
        .collect()
}

type AudioBlock = (
    Array2<f32>,
    Option<Vec<usize>>,
    Vec<usize>,
    Vec<(String, String)>,
    f64,
    usize,
    Option<super::scaling::Scaling>,
);

/// Per-track audio features (cached), the usable rows, the skipped tracks.
fn audio_block(
    dataset: &DatasetSpec,
    data: &ResolvedDataset,
    spec: &FeatureSetSpec,
    store: &Store,
    progress: &indicatif::ProgressBar,
    missing: Missing,
) -> Result<AudioBlock> {
    let outcomes = extract_tracks(dataset, data, spec, store, progress, missing, |_| true)?;
    let mut rows = Vec::new();
    let mut windows = Vec::new();
    let mut skipped = Vec::new();
    let mut hits = 0;
    let mut seconds = 0.0;
    let mut usable = Vec::new();
    for (i, r, cached, s) in outcomes {
        hits += cached as usize;
        seconds += s;
        match r {
            Ok(v) => {
                windows.extend(std::iter::repeat_n(rows.len(), v.len()));
                rows.push(i);
                usable.push(v);
            }
            Err(e) => {
                let path = data.tracks[i].path.display().to_string();
                if dataset.on_error() == OnError::Fail {
                    bail!("{path}: {e}");
                }
                skipped.push((data.tracks[i].id.clone(), e));
            }
        }
    }
    if rows.len() < 2 {
        let why = skipped
            .first()
            .map(|(t, r)| format!(" ({} skipped, e.g. {t}: {r})", skipped.len()))
            .unwrap_or_default();
        bail!(
            "only {} usable track(s) for this feature set: need at least 2{why}",
            rows.len()
        );
    }
    // Each track's vectors are moved into the matrix and freed as they go,
    // so the windows of a large segmented set are held once, not twice (the
    // zeroed matrix costs no memory until written).
    let dim = spec.shape().dim();
    let mut x = Array2::<f32>::zeros((windows.len(), dim));
    let mut out = x.rows_mut().into_iter();
    for track in usable {
        for v in track {
            out.next()
                .expect("one matrix row per window")
                .assign(&ndarray::ArrayView1::from(v.as_slice()));
        }
    }
    let scaling = spec.standardize.then(|| match spec.shape() {
        FeatureShape::Summary { .. } => standardize(&mut x),
        // A sequence's columns are (row, frame) pairs: scale each feature
        // row over all tracks and frames, keeping the time structure.
        FeatureShape::Sequence { rows, frames } => standardize_rows(&mut x, rows, frames),
    });
    let windows = spec.segment.is_some().then_some(windows);
    Ok((x, windows, rows, skipped, seconds, hits, scaling))
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
                .map(|&r| graph::embedding_key(model, p.max_length, texts[r].unwrap()))
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
                        write_vector(&tmp.join(VECTOR_FILE), v)
                    })?;
                }
            }
            keys.iter()
                .map(|k| {
                    let a = store
                        .lookup(EMBEDDING, k)
                        .context("embedding vanished from the cache")?;
                    read_vector(&a.dir.join(VECTOR_FILE))
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

fn extract_track(
    path: &Path,
    dataset: &DatasetSpec,
    extractor: &Extractor,
) -> Result<Vec<Vec<f32>>> {
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
    let windows = extractor
        .windows(&decoded.samples)
        .map_err(anyhow::Error::msg)?;
    for (w, v) in windows.iter().enumerate() {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            bail!("feature {i} of window {w} is not finite");
        }
    }
    Ok(windows)
}

/// Zero mean, unit variance per column (population std; constant columns
/// are centred and left unscaled).
pub fn standardize(x: &mut Array2<f32>) -> super::scaling::Scaling {
    // A column is a "row" of one frame.
    let cols = x.ncols();
    standardize_rows(x, cols, 1)
}

/// Zero mean, unit variance per feature row of row-major sequences.
pub fn standardize_rows(
    x: &mut Array2<f32>,
    rows: usize,
    frames: usize,
) -> super::scaling::Scaling {
    super::scaling::Scaling::fit_apply(x, rows, frames)
}

/// A track's vectors as one windows × dim `.npy`.
fn write_windows(path: &Path, v: &[Vec<f32>]) -> Result<()> {
    let dim = v.first().map_or(0, Vec::len);
    let a = Array2::from_shape_vec((v.len(), dim), v.concat())?;
    ndarray_npy::write_npy(path, &a).with_context(|| format!("cannot write {}", path.display()))
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
