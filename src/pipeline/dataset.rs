//! Resolving the dataset to tracks, each with an input key that identifies
//! its content: the synthetic corpus by (corpus key, track id) — known before
//! the corpus is written, so `plan` can work without generating it — and
//! files on disk by the blake3 of their bytes.

use std::path::PathBuf;

use anyhow::Result;
use rayon::prelude::*;

use crate::cache::{hash_file, Key, KeyBuilder, Store};
use crate::cluster::metrics;
use crate::data::{folders, manifest, precomputed, synthetic, DatasetSpec, Track};

pub struct ResolvedDataset {
    pub tracks: Vec<Track>,
    pub input_keys: Vec<Key>,
    /// Sorted class names, when the dataset is labelled.
    pub classes: Vec<String>,
    /// Where the synthetic corpus lives (None for folder datasets).
    corpus: Option<(Key, PathBuf, synthetic::SyntheticSpec)>,
    /// A precomputed dataset's feature rows, read once with its labels.
    pub precomputed: Option<ndarray::Array2<f32>>,
}

const CORPUS_STAGE: &str = "corpus";

pub fn resolve(spec: &DatasetSpec, store: &Store) -> Result<ResolvedDataset> {
    let mut precomputed_x = None;
    let (tracks, input_keys, corpus) = match spec {
        DatasetSpec::Synthetic(s) => {
            let key = KeyBuilder::new(CORPUS_STAGE, synthetic::GENERATOR_VERSION)
                .params("spec", &serde_json::to_value(s)?)
                .finish();
            let dir = store.path(CORPUS_STAGE, &key);
            let mut tracks = Vec::new();
            let mut keys = Vec::new();
            for (c, class) in s.class_names().into_iter().enumerate() {
                for i in 0..s.clips_per_class {
                    let file = format!("{class}.{i:05}.wav");
                    let id = format!("{class}/{file}");
                    keys.push(
                        KeyBuilder::new("synthetic-track", 1)
                            .input("corpus", &key)
                            .bytes("id", id.as_bytes())
                            .finish(),
                    );
                    tracks.push(Track {
                        id,
                        path: dir.join(class).join(&file),
                        label: Some(class.to_string()),
                        lyrics: synthetic::lyrics_for(s, c, i),
                        meta: Default::default(),
                    });
                }
            }
            (tracks, keys, Some((key, dir, s.clone())))
        }
        DatasetSpec::Precomputed(p) => {
            let table = precomputed::load(p)?;
            let file = hash_file(&p.path)
                .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", p.path.display()))?;
            let keys = (0..table.ids.len())
                .map(|i| {
                    KeyBuilder::new("precomputed-row", 1)
                        .input("file", &file)
                        .bytes("row", &(i as u64).to_le_bytes())
                        .finish()
                })
                .collect();
            let tracks = table
                .ids
                .into_iter()
                .zip(table.labels)
                .map(|(id, label)| Track {
                    id,
                    path: p.path.clone(),
                    label,
                    lyrics: None,
                    meta: Default::default(),
                })
                .collect();
            precomputed_x = Some(table.x);
            (tracks, keys, None)
        }
        DatasetSpec::Folders(_) | DatasetSpec::Manifest(_) => {
            let tracks = match spec {
                DatasetSpec::Manifest(m) => manifest::list(&m.path)?,
                DatasetSpec::Folders(f) => folders::list(&f.path)?,
                _ => unreachable!("file datasets only"),
            };
            let keys = tracks
                .par_iter()
                .map(|t| {
                    hash_file(&t.path)
                        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", t.path.display()))
                })
                .collect::<Result<Vec<_>>>()?;
            (tracks, keys, None)
        }
    };
    let mut classes: Vec<String> = tracks.iter().filter_map(|t| t.label.clone()).collect();
    classes.sort();
    classes.dedup();
    Ok(ResolvedDataset {
        tracks,
        input_keys,
        classes,
        corpus,
        precomputed: precomputed_x,
    })
}

impl ResolvedDataset {
    /// Writes the synthetic corpus into the cache if it is not there yet.
    /// Returns whether it was cached.
    pub fn materialize(&mut self, store: &Store) -> Result<bool> {
        let Some((key, _, spec)) = &self.corpus else {
            return Ok(true);
        };
        let a = store.get_or_build(CORPUS_STAGE, key, |tmp| {
            synthetic::write_corpus(spec, tmp)?;
            std::fs::write(tmp.join("corpus.json"), serde_json::to_string_pretty(spec)?)?;
            Ok(())
        })?;
        Ok(a.cached)
    }

    /// Each track's audio file as a string (for the results record), or
    /// nothing when the dataset holds feature rows rather than audio.
    pub fn audio_paths(&self) -> Vec<String> {
        if self.precomputed.is_some() {
            return Vec::new();
        }
        self.tracks
            .iter()
            .map(|t| t.path.display().to_string())
            .collect()
    }

    /// Each track's class index, or [`metrics::UNLABELLED`] for a track
    /// without a label; None when no track has one.
    pub fn label_index(&self) -> Option<Vec<usize>> {
        if self.classes.is_empty() {
            return None;
        }
        Some(
            self.tracks
                .iter()
                .map(|t| {
                    t.label.as_ref().map_or(metrics::UNLABELLED, |l| {
                        self.classes.binary_search(l).unwrap()
                    })
                })
                .collect(),
        )
    }
}
