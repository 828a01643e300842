//! Dataset sources. Every source resolves to a list of [`Track`]s with a
//! path on disk, so the decode stage is the same real path for all of them.

pub mod folders;
pub mod manifest;
pub mod precomputed;
pub mod synthetic;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::spec::{typed_table, KeyError};

/// One audio file of the dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Track {
    /// Stable id: the path relative to the dataset root, with `/` separators.
    pub id: String,
    pub path: PathBuf,
    pub label: Option<String>,
    pub lyrics: Option<String>,
    /// Other columns (a manifest's extra columns), usable as conditions.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Track {
    /// The value of a categorical column: `label`, `language` (a manifest's
    /// column, else the script of the lyrics: en, bn, mixed or none), or any
    /// manifest column.
    pub fn column(&self, name: &str) -> Option<String> {
        if let Some(v) = self.meta.get(name) {
            return Some(v.clone());
        }
        match name {
            "label" => self.label.clone(),
            "language" => {
                Some(crate::text::language_of(self.lyrics.as_deref().unwrap_or("")).to_string())
            }
            _ => None,
        }
    }
}

/// What to do with a file that cannot be decoded or is unusable.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Leave the file out, list it in the results and the report.
    #[default]
    Skip,
    /// Stop the run.
    Fail,
}

/// How tracks are decoded: the parameters of the decode stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeParams {
    pub sample_rate: u32,
    /// Seconds skipped at the start.
    pub offset: f64,
    /// Seconds kept after the offset (None = to the end).
    pub duration: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSpec {
    Synthetic(synthetic::SyntheticSpec),
    Folders(folders::FoldersSpec),
    /// A CSV of tracks; `path` is the CSV, the decode options are a folder
    /// dataset's.
    Manifest(folders::FoldersSpec),
    /// Feature rows made elsewhere: no decoding, no extraction.
    Precomputed(precomputed::PrecomputedSpec),
}

pub const DATASET_KINDS: &[&str] = &["synthetic", "folders", "manifest", "precomputed"];

/// Keys that only file datasets have. When a file dataset is switched to
/// the built-in corpus (`--set dataset.kind=synthetic`), they are dropped
/// rather than rejected, and `duration` with them: a file dataset's
/// excerpt length is not the length of a synthetic clip.
const FILE_ONLY_KEYS: &[&str] = &[
    "path",
    "offset",
    "duration",
    "min_duration",
    "short_clips",
    "on_error",
];

impl DatasetSpec {
    pub fn parse(table: &toml::Table, path: &[String]) -> Result<Self, KeyError> {
        let kind = crate::spec::kind_of(table, path, DATASET_KINDS)?;
        match kind {
            "synthetic" => {
                let mut table = table.clone();
                if table.contains_key("path") {
                    table.retain(|k, _| !FILE_ONLY_KEYS.contains(&k));
                }
                Ok(DatasetSpec::Synthetic(
                    typed_table::<synthetic::SyntheticSpec>(&table, path)?.checked(path)?,
                ))
            }
            "folders" => Ok(DatasetSpec::Folders(
                typed_table::<folders::FoldersSpec>(table, path)?.checked(path)?,
            )),
            "manifest" => Ok(DatasetSpec::Manifest(
                typed_table::<folders::FoldersSpec>(table, path)?.checked(path)?,
            )),
            "precomputed" => Ok(DatasetSpec::Precomputed(
                typed_table::<precomputed::PrecomputedSpec>(table, path)?.checked(path)?,
            )),
            other => unreachable!("kind_of accepted `{other}`"),
        }
    }

    /// The JSON Schema of the keys a dataset of `kind` takes.
    pub fn schema(kind: &str, gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
        use crate::spec::schema::object;
        match kind {
            "synthetic" => object::<synthetic::SyntheticSpec>(gen),
            "folders" | "manifest" => object::<folders::FoldersSpec>(gen),
            "precomputed" => object::<precomputed::PrecomputedSpec>(gen),
            other => unreachable!("DATASET_KINDS has no `{other}`"),
        }
    }

    pub fn decode_params(&self) -> DecodeParams {
        match self {
            DatasetSpec::Synthetic(s) => DecodeParams {
                sample_rate: s.sample_rate,
                offset: 0.0,
                duration: None,
            },
            DatasetSpec::Folders(f) | DatasetSpec::Manifest(f) => DecodeParams {
                sample_rate: f.sample_rate,
                offset: f.offset,
                duration: f.duration,
            },
            // Nothing is decoded; the values only fill the key's slot.
            DatasetSpec::Precomputed(_) => DecodeParams {
                sample_rate: 0,
                offset: 0.0,
                duration: None,
            },
        }
    }

    pub fn on_error(&self) -> OnError {
        match self {
            DatasetSpec::Synthetic(_) | DatasetSpec::Precomputed(_) => OnError::Fail,
            DatasetSpec::Folders(f) | DatasetSpec::Manifest(f) => f.on_error,
        }
    }

    /// Zero-pad short clips to `min_duration` rather than dropping them.
    pub fn pad_short_clips(&self) -> bool {
        matches!(self, DatasetSpec::Folders(f) | DatasetSpec::Manifest(f) if f.short_clips == folders::ShortClips::Pad)
    }

    pub fn min_duration(&self) -> f64 {
        match self {
            DatasetSpec::Synthetic(_) | DatasetSpec::Precomputed(_) => 0.0,
            DatasetSpec::Folders(f) | DatasetSpec::Manifest(f) => f.min_duration,
        }
    }

    /// The `kind` the experiment file names.
    pub fn kind(&self) -> &'static str {
        match self {
            DatasetSpec::Synthetic(_) => "synthetic",
            DatasetSpec::Folders(_) => "folders",
            DatasetSpec::Manifest(_) => "manifest",
            DatasetSpec::Precomputed(_) => "precomputed",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DatasetSpec::Synthetic(s) => format!(
                "synthetic corpus: {} classes x {} clips of {} s (seed {})",
                s.classes, s.clips_per_class, s.duration, s.seed
            ),
            DatasetSpec::Folders(f) => format!("folders under {}", f.path.display()),
            DatasetSpec::Manifest(f) => format!("manifest {}", f.path.display()),
            DatasetSpec::Precomputed(p) => format!("precomputed features {}", p.path.display()),
        }
    }
}

/// A file or folder name as text for track ids and labels. A name that is
/// not UTF-8 keeps its invalid bytes as `\xNN` escapes: a lossy conversion
/// would turn two such names into one id.
pub fn name_text(name: &std::ffi::OsStr) -> String {
    if let Some(s) = name.to_str() {
        return s.to_string();
    }
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Track ids name rows in every result: two tracks with one id are an error.
pub fn check_unique_ids(tracks: &[Track], source: &Path) -> anyhow::Result<()> {
    let mut seen = std::collections::HashMap::with_capacity(tracks.len());
    for t in tracks {
        if let Some(first) = seen.insert(t.id.as_str(), &t.path) {
            anyhow::bail!(
                "{}: two tracks have the id `{}` ({} and {})",
                source.display(),
                t.id,
                first.display(),
                t.path.display()
            );
        }
    }
    Ok(())
}

/// Audio extensions the decoder understands.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "au", "snd",
];

pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
