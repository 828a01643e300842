//! The content-addressed store.
//!
//! An artifact is a folder at `<root>/<stage>/<k0k1>/<key>/`. Its key is the
//! blake3 of the stage name, the stage's format version, its canonical
//! resolved parameters and the keys of its inputs ([`KeyBuilder`]). A folder
//! is built under `<root>/tmp/` and renamed into place in one step, so a run
//! killed halfway never leaves a partial artifact that a later run trusts, and
//! two runs sharing one cache never see each other's half-written files: the
//! first rename wins, the loser's identical copy is discarded.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};

/// A 256-bit content key, shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

impl Key {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.short())
    }
}

/// Builds a stage key from its parts. Each part is length-prefixed, so
/// ("ab", "c") and ("a", "bc") can never collide.
pub struct KeyBuilder(blake3::Hasher);

impl KeyBuilder {
    pub fn new(stage: &str, version: u32) -> Self {
        let mut b = KeyBuilder(blake3::Hasher::new());
        b.part(b"vaerun-stage");
        b.part(stage.as_bytes());
        b.part(&version.to_le_bytes());
        b
    }

    fn part(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Adds parameters in canonical form: JSON with sorted keys.
    pub fn params(mut self, name: &str, value: &serde_json::Value) -> Self {
        self.part(name.as_bytes());
        self.part(canonical_json(value).as_bytes());
        self
    }

    pub fn input(mut self, name: &str, key: &Key) -> Self {
        self.part(name.as_bytes());
        self.part(&key.0);
        self
    }

    pub fn bytes(mut self, name: &str, bytes: &[u8]) -> Self {
        self.part(name.as_bytes());
        self.part(bytes);
        self
    }

    pub fn finish(self) -> Key {
        Key(*self.0.finalize().as_bytes())
    }
}

/// serde_json's map is ordered by key (no `preserve_order`), so `to_string`
/// is canonical; finite floats print in shortest round-trip form.
pub fn canonical_json(value: &serde_json::Value) -> String {
    value.to_string()
}

/// The hash of a file's bytes, read in a streaming fashion.
pub fn hash_file(path: &Path) -> std::io::Result<Key> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(Key(*hasher.finalize().as_bytes()))
}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageCounts {
    pub hits: u64,
    pub misses: u64,
}

pub struct Store {
    root: PathBuf,
    counts: Mutex<BTreeMap<String, StageCounts>>,
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

    /// Whether a finished artifact exists (does not count as a hit or miss).
    pub fn contains(&self, stage: &str, key: &Key) -> bool {
        self.path(stage, key).is_dir()
    }

    /// The artifact's folder, if it was finished; counts a hit or a miss.
    pub fn lookup(&self, stage: &str, key: &Key) -> Option<PathBuf> {
        let path = self.path(stage, key);
        let found = path.is_dir();
        let mut counts = self.counts.lock().unwrap();
        let c = counts.entry(stage.to_string()).or_default();
        if found {
            c.hits += 1;
        } else {
            c.misses += 1;
        }
        found.then_some(path)
    }

    /// Builds an artifact: `write` fills a fresh temporary folder, which is
    /// then renamed into place. On error the temporary folder is removed and
    /// nothing is published.
    pub fn publish(
        &self,
        stage: &str,
        key: &Key,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let final_path = self.path(stage, key);
        let tmp = self.root.join("tmp").join(format!(
            "{stage}-{}-{}-{}",
            key.short(),
            std::process::id(),
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        if let Err(e) = write(&tmp) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        std::fs::create_dir_all(final_path.parent().unwrap())?;
        match std::fs::rename(&tmp, &final_path) {
            Ok(()) => Ok(final_path),
            // Another run published the same key first: same inputs, same
            // content, so keep theirs.
            Err(_) if final_path.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(final_path)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e).with_context(|| format!("cannot publish {}", final_path.display()))
            }
        }
    }

    /// Looks the artifact up and builds it if missing; returns its folder and
    /// whether it came from the cache.
    pub fn get_or_build(
        &self,
        stage: &str,
        key: &Key,
        build: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<(PathBuf, bool)> {
        match self.lookup(stage, key) {
            Some(p) => Ok((p, true)),
            None => Ok((self.publish(stage, key, build)?, false)),
        }
    }

    pub fn counts(&self) -> BTreeMap<String, StageCounts> {
        self.counts.lock().unwrap().clone()
    }

    /// Removes temporary folders left by killed runs (older than an hour, so a
    /// concurrent run's work in progress is left alone).
    pub fn sweep_stale_tmp(&self) {
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            if old {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Writes a file atomically inside a folder that is itself not yet
/// published, or anywhere a reader must never see half a file.
/// A failed write (a full disk) removes the temporary and leaves any old
/// file in place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut set = crate::fileset::FileSet::new();
    set.stage(path, bytes)?;
    set.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part() {
        let a = KeyBuilder::new("cluster", 1)
            .params("p", &serde_json::json!({"k": 3}))
            .finish();
        let b = KeyBuilder::new("cluster", 1)
            .params("p", &serde_json::json!({"k": 4}))
            .finish();
        let c = KeyBuilder::new("cluster", 2)
            .params("p", &serde_json::json!({"k": 3}))
            .finish();
        let d = KeyBuilder::new("cluster", 1)
            .params("p", &serde_json::json!({"k": 3}))
            .finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, d);
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let x: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        assert_eq!(canonical_json(&x), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }

    #[test]
    fn failed_build_publishes_nothing_and_partial_tmp_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = KeyBuilder::new("s", 1).finish();
        let err = store.publish("s", &key, |p| {
            std::fs::write(p.join("half"), b"partial")?;
            anyhow::bail!("killed")
        });
        assert!(err.is_err());
        assert!(store.lookup("s", &key).is_none());
        // A folder left in tmp/ by a killed process is not an artifact either.
        std::fs::create_dir_all(dir.path().join("tmp/s-dead")).unwrap();
        assert!(!store.contains("s", &key));
        let (p, cached) = store
            .get_or_build("s", &key, |p| Ok(std::fs::write(p.join("x"), b"1")?))
            .unwrap();
        assert!(!cached);
        assert_eq!(std::fs::read(p.join("x")).unwrap(), b"1");
        let (_, cached) = store.get_or_build("s", &key, |_| unreachable!()).unwrap();
        assert!(cached);
        let counts = store.counts();
        assert_eq!(counts["s"].hits, 1);
        assert_eq!(counts["s"].misses, 2);
    }

    #[test]
    fn concurrent_publishers_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = KeyBuilder::new("s", 1).finish();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let store = &store;
                s.spawn(move || {
                    store
                        .publish("s", &key, |p| Ok(std::fs::write(p.join("v"), "same0")?))
                        .unwrap();
                });
            }
        });
        assert_eq!(
            std::fs::read_to_string(store.path("s", &key).join("v")).unwrap(),
            "same0"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
