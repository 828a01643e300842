//! The store: artifacts as folders `<root>/<stage>/<k0k1>/<key>/`, each
//! built under `<root>/tmp/` (leased, see [`super::lease`]) and renamed into
//! place in one step with its [`Manifest`]. Readers verify the manifest; an
//! entry that fails verification, or that its reader finds inconsistent
//! (a latent with the wrong number of rows), is moved to
//! `<root>/quarantine/` with a warning and rebuilt. So a run killed halfway
//! never leaves a partial artifact that a later run trusts, two runs (or
//! two hundred SLURM tasks) sharing one cache never see each other's
//! half-written files, and a damaged entry costs one rebuild, not a
//! permanently failing cell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};

use super::manifest::Manifest;
use super::{lease, Key};

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageCounts {
    pub hits: u64,
    pub misses: u64,
}

/// A finished artifact: where it is, whether this run found it in the
/// cache, and what computing it cost when it was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub dir: PathBuf,
    pub cached: bool,
    pub seconds: f64,
}

pub struct Store {
    root: PathBuf,
    counts: Mutex<BTreeMap<String, StageCounts>>,
    warnings: Mutex<Vec<String>>,
    tmp_seq: AtomicU64,
}

impl Store {
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("cannot create cache directory {}", root.display()))?;
        Ok(Store {
            root,
            counts: Mutex::new(BTreeMap::new()),
            warnings: Mutex::new(Vec::new()),
            tmp_seq: AtomicU64::new(0),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, stage: &str, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.root.join(stage).join(&hex[..2]).join(hex)
    }

    /// Whether a finished artifact is there: its manifest names it and its
    /// files have their recorded sizes. Hashes are not read (this is what
    /// `plan` asks for every artifact); counts neither a hit nor a miss.
    pub fn contains(&self, stage: &str, key: &Key) -> bool {
        let dir = self.path(stage, key);
        dir.is_dir() && Manifest::check_sizes(&dir, stage, &key.hex()).is_ok()
    }

    /// The verified artifact, if there is one; counts a hit or a miss. An
    /// entry that fails verification is quarantined and reported missing.
    pub fn lookup(&self, stage: &str, key: &Key) -> Option<Artifact> {
        let found = self.verified(stage, key);
        self.count(stage, found.is_some());
        found
    }

    fn verified(&self, stage: &str, key: &Key) -> Option<Artifact> {
        let dir = self.path(stage, key);
        if !dir.exists() {
            return None;
        }
        match Manifest::verify(&dir, stage, &key.hex()) {
            Ok(m) => Some(Artifact {
                dir,
                cached: true,
                seconds: m.seconds,
            }),
            Err(e) => {
                self.quarantine(stage, key, &format!("{e:#}"));
                None
            }
        }
    }

    fn count(&self, stage: &str, hit: bool) {
        let mut counts = self.counts.lock().unwrap();
        let c = counts.entry(stage.to_string()).or_default();
        if hit {
            c.hits += 1;
        } else {
            c.misses += 1;
        }
    }

    /// Moves a damaged entry aside (to `quarantine/`, for inspection) so the
    /// next lookup rebuilds it, and records a warning for the report.
    pub fn quarantine(&self, stage: &str, key: &Key, why: &str) {
        let dir = self.path(stage, key);
        let aside = self.root.join("quarantine").join(format!(
            "{stage}-{}-{}-{}",
            key.short(),
            std::process::id(),
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        let moved = std::fs::create_dir_all(aside.parent().unwrap())
            .and_then(|_| std::fs::rename(&dir, &aside))
            .is_ok();
        let msg = format!(
            "cache entry {stage}/{} failed verification ({why}); {}, rebuilding it",
            key.short(),
            if moved {
                format!("moved to {}", aside.display())
            } else {
                "already moved by another run".to_string()
            }
        );
        eprintln!("warning: {msg}");
        self.warnings.lock().unwrap().push(msg);
    }

    /// Builds an artifact: `write` fills a fresh, leased temporary folder,
    /// which gets its manifest and is renamed into place. On error the
    /// folder is removed and nothing is published.
    pub fn publish(
        &self,
        stage: &str,
        key: &Key,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Artifact> {
        let final_path = self.path(stage, key);
        let tmp = self.root.join("tmp").join(format!(
            "{stage}-{}-{}-{}-{}",
            key.short(),
            lease::hostname(),
            std::process::id(),
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let built = lease::acquire(&tmp)
            .with_context(|| format!("cannot write a lease in {}", tmp.display()))
            .and_then(|()| {
                let started = Instant::now();
                write(&tmp)?;
                let seconds = started.elapsed().as_secs_f64();
                lease::release(&tmp);
                Manifest::describe(&tmp, stage, &key.hex(), seconds)?.write(&tmp)?;
                Ok(seconds)
            });
        let seconds = match built {
            Ok(s) => s,
            Err(e) => {
                lease::release(&tmp);
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        std::fs::create_dir_all(final_path.parent().unwrap())?;
        let artifact = Artifact {
            dir: final_path.clone(),
            cached: false,
            seconds,
        };
        match std::fs::rename(&tmp, &final_path) {
            Ok(()) => Ok(artifact),
            // Another run published the same key first: same inputs, same
            // content, so keep theirs.
            Err(_) if final_path.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(artifact)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e).with_context(|| format!("cannot publish {}", final_path.display()))
            }
        }
    }

    /// Looks the artifact up and builds it if missing.
    pub fn get_or_build(
        &self,
        stage: &str,
        key: &Key,
        build: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Artifact> {
        match self.lookup(stage, key) {
            Some(a) => Ok(a),
            None => self.publish(stage, key, build),
        }
    }

    /// Like [`Store::get_or_build`], then reads the artifact with `load`,
    /// which also checks it against what the caller expects (shapes against
    /// the track count, ...). A cached entry that `load` rejects is
    /// quarantined and rebuilt once; a fresh build that `load` rejects is an
    /// error.
    pub fn load_or_build<T>(
        &self,
        stage: &str,
        key: &Key,
        build: impl FnOnce(&Path) -> Result<()>,
        load: impl Fn(&Path) -> Result<T>,
    ) -> Result<(T, Artifact)> {
        if let Some(a) = self.verified(stage, key) {
            match load(&a.dir) {
                Ok(v) => {
                    self.count(stage, true);
                    return Ok((v, a));
                }
                Err(e) => self.quarantine(stage, key, &format!("{e:#}")),
            }
        }
        self.count(stage, false);
        let a = self.publish(stage, key, build)?;
        let v = load(&a.dir).with_context(|| format!("freshly built {stage} artifact"))?;
        Ok((v, a))
    }

    pub fn counts(&self) -> BTreeMap<String, StageCounts> {
        self.counts.lock().unwrap().clone()
    }

    /// Warnings about entries that were quarantined during this run.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap().clone()
    }

    /// Removes build folders whose owners are gone (see [`lease::stale`]);
    /// a build in progress is never touched, however long it has run.
    /// Returns what was removed and why.
    pub fn sweep_stale_tmp(&self) -> Vec<(PathBuf, String)> {
        let mut removed = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return removed;
        };
        for e in entries.flatten() {
            if let Some(why) = lease::stale(&e.path()) {
                if std::fs::remove_dir_all(e.path()).is_ok() {
                    removed.push((e.path(), why));
                }
            }
        }
        removed
    }
}
