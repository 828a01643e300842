//! What an artifact holds, recorded when it is published and checked when
//! it is read: every file's size and blake3 hash, so that a truncated or
//! overwritten file on a shared filesystem is caught before it is trusted,
//! and the seconds its computation took, so that a cached rerun can report
//! what the results cost to make.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub stage: String,
    pub key: String,
    /// Relative path (with `/`) → size and hash.
    pub files: BTreeMap<String, FileEntry>,
    /// Seconds the build took when it was computed.
    pub seconds: f64,
    pub host: String,
    pub vaerun: String,
}

impl Manifest {
    /// Describes the finished contents of `dir` (every file below it).
    pub fn describe(dir: &Path, stage: &str, key: &str, seconds: f64) -> Result<Manifest> {
        let mut files = BTreeMap::new();
        for rel in list(dir)? {
            let path = dir.join(&rel);
            let size = std::fs::metadata(&path)?.len();
            let hash = super::hash_file(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.insert(
                rel,
                FileEntry {
                    size,
                    blake3: hash.hex(),
                },
            );
        }
        Ok(Manifest {
            stage: stage.into(),
            key: key.into(),
            files,
            seconds,
            host: super::lease::hostname(),
            vaerun: env!("CARGO_PKG_VERSION").into(),
        })
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", dir.join(MANIFEST).display()))
    }

    /// Reads `dir`'s manifest and checks that it is the artifact asked for
    /// and that every file it lists is there, whole and unchanged.
    pub fn verify(dir: &Path, stage: &str, key: &str) -> Result<Manifest> {
        Self::check(dir, stage, key, true)
    }

    /// The cheap check: the manifest names this artifact and every file has
    /// its recorded size (no file is read).
    pub fn check_sizes(dir: &Path, stage: &str, key: &str) -> Result<Manifest> {
        Self::check(dir, stage, key, false)
    }

    fn check(dir: &Path, stage: &str, key: &str, hashes: bool) -> Result<Manifest> {
        let bytes = std::fs::read(dir.join(MANIFEST))
            .context("no manifest.json (an unfinished or pre-manifest entry)")?;
        let m: Manifest =
            serde_json::from_slice(&bytes).context("manifest.json is not a manifest")?;
        if m.stage != stage || m.key != key {
            bail!(
                "manifest.json describes {}/{}, not this entry",
                m.stage,
                &m.key[..m.key.len().min(12)]
            );
        }
        for (rel, want) in &m.files {
            let path = dir.join(rel);
            let size = std::fs::metadata(&path)
                .map_err(|_| anyhow::anyhow!("{rel} is missing"))?
                .len();
            if size != want.size {
                bail!("{rel} has {size} bytes, the manifest says {}", want.size);
            }
            if !hashes {
                continue;
            }
            let hash = super::hash_file(&path).with_context(|| format!("cannot read {rel}"))?;
            if hash.hex() != want.blake3 {
                bail!("{rel} does not match its recorded hash");
            }
        }
        Ok(m)
    }
}

/// Every file below `dir`, relative, sorted, `/`-separated; the manifest
/// itself left out.
fn list(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if e.file_type()?.is_dir() {
                stack.push((e.path(), rel));
            } else if rel != MANIFEST {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}
