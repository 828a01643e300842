//! GTZAN layout: `root/<label>/<file>`, lyrics in `<file stem>.txt` beside
//! the audio.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{is_audio, OnError, Track};
use crate::spec::KeyError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoldersSpec {
    pub kind: String,
    /// The dataset root (one subfolder per label).
    pub path: PathBuf,
    #[serde(default = "d_sr")]
    pub sample_rate: u32,
    #[serde(default)]
    pub offset: f64,
    #[serde(default)]
    pub duration: Option<f64>,
    /// Clips shorter than this many seconds (after offset/duration) are
    /// dropped as bad input, or zero-padded to it (`short_clips = "pad"`).
    #[serde(default)]
    pub min_duration: f64,
    #[serde(default)]
    pub short_clips: ShortClips,
    #[serde(default)]
    pub on_error: OnError,
}

/// What happens to a clip shorter than `min_duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShortClips {
    /// Leave it out (listed with the reason, like any bad file).
    #[default]
    Drop,
    /// Zero-pad it at the end to `min_duration`.
    Pad,
}

fn d_sr() -> u32 {
    22050
}

impl FoldersSpec {
    pub fn checked(self, path: &[String]) -> Result<Self, KeyError> {
        let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
        if !(1000..=384_000).contains(&self.sample_rate) {
            return Err(KeyError::new(
                &at("sample_rate"),
                "expected a sample rate between 1000 and 384000 Hz",
            ));
        }
        if self.offset < 0.0 || !self.offset.is_finite() {
            return Err(KeyError::new(
                &at("offset"),
                "must be a non-negative number of seconds",
            ));
        }
        if self.duration.is_some_and(|d| d <= 0.0 || !d.is_finite()) {
            return Err(KeyError::new(
                &at("duration"),
                "must be a positive number of seconds",
            ));
        }
        Ok(self)
    }
}

/// Lists `root/<label>/<audio file>` in sorted order, so track order (and so
/// every seeded result) does not depend on the file system.
pub fn list(root: &Path) -> Result<Vec<Track>> {
    if !root.is_dir() {
        bail!(
            "dataset folder {} does not exist: put one subfolder per label there \
             (GTZAN layout: {}/<genre>/<genre>.00000.wav), or run on the built-in corpus \
             with --set dataset.kind=synthetic",
            root.display(),
            root.display()
        );
    }
    let mut labels: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("cannot read {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    labels.sort();
    let mut tracks = Vec::new();
    for dir in labels {
        let label = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_audio(p))
            .collect();
        files.sort();
        for path in files {
            let lyrics_path = path.with_extension("txt");
            let lyrics = if lyrics_path.is_file() {
                Some(
                    std::fs::read_to_string(&lyrics_path)
                        .with_context(|| format!("cannot read lyrics {}", lyrics_path.display()))?
                        .trim()
                        .to_string(),
                )
            } else {
                None
            };
            let id = format!("{label}/{}", path.file_name().unwrap().to_string_lossy());
            tracks.push(Track {
                id,
                path,
                label: Some(label.clone()),
                lyrics,
                meta: Default::default(),
            });
        }
    }
    if tracks.is_empty() {
        bail!(
            "no audio files found under {} (expected <label>/<file>.wav and similar)",
            root.display()
        );
    }
    Ok(tracks)
}
