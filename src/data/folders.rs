//! GTZAN layout: `root/<label>/<file>`, lyrics in `<file stem>.txt` beside
//! the audio.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{is_audio, OnError, Track};
use crate::spec::KeyError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FoldersSpec {
    pub kind: String,
    /// The dataset root (`folders`: one subfolder per label) or the CSV (`manifest`).
    pub path: PathBuf,
    /// Decode and resample to this rate (Hz).
    #[serde(default = "d_sr")]
    pub sample_rate: u32,
    /// Seconds skipped at the start of each file.
    #[serde(default)]
    pub offset: f64,
    /// Seconds kept after the offset (absent: to the end).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Clips shorter than this many seconds (after offset/duration) are
    /// dropped as bad input, or zero-padded to it (`short_clips = "pad"`).
    #[serde(default)]
    pub min_duration: f64,
    /// drop short clips (listed with the reason) or pad them with silence to min_duration.
    #[serde(default)]
    pub short_clips: ShortClips,
    /// skip: leave unreadable files out and list them in the report; fail: stop the run.
    #[serde(default)]
    pub on_error: OnError,
}

/// What happens to a clip shorter than `min_duration`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
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
        if self.min_duration < 0.0 {
            return Err(KeyError::new(
                &at("min_duration"),
                "must be zero or a positive number of seconds",
            ));
        }
        if let Some(d) = self.duration.filter(|&d| self.min_duration > d) {
            return Err(KeyError::new(
                &at("min_duration"),
                format!(
                    "min_duration = {} s is longer than duration = {d} s: every clip would be {}",
                    self.min_duration,
                    match self.short_clips {
                        ShortClips::Drop => "dropped",
                        ShortClips::Pad => "padded with silence",
                    }
                ),
            ));
        }
        let key: Vec<&str> = path.iter().map(String::as_str).chain(["path"]).collect();
        crate::spec::check_path(&key, Some(self.path.as_path()))?;
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
        let label = super::name_text(dir.file_name().unwrap());
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
            let id = format!("{label}/{}", super::name_text(path.file_name().unwrap()));
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
    super::check_unique_ids(&tracks, root)?;
    Ok(tracks)
}
