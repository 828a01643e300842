//! The content-addressed cache.
//!
//! An artifact is a folder at `<root>/<stage>/<k0k1>/<key>/`. Its key is the
//! blake3 of the stage name, the stage's format version, its canonical
//! resolved parameters and the keys of its inputs ([`KeyBuilder`]); which
//! parts go into which stage's key is decided in one place, the stage graph
//! (`pipeline::graph`). [`Store`] builds, publishes, verifies and
//! quarantines artifacts; [`lease`] protects builds in progress;
//! [`manifest`] records what a finished artifact holds.

pub mod lease;
pub mod manifest;
mod store;

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};

pub use store::{Artifact, StageCounts, Store};

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
        let a = store
            .get_or_build("s", &key, |p| Ok(std::fs::write(p.join("x"), b"1")?))
            .unwrap();
        assert!(!a.cached);
        assert_eq!(std::fs::read(a.dir.join("x")).unwrap(), b"1");
        let a = store.get_or_build("s", &key, |_| unreachable!()).unwrap();
        assert!(a.cached);
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

    fn published(store: &Store, key: &Key, body: &[u8]) -> std::path::PathBuf {
        store
            .publish("s", key, |p| Ok(std::fs::write(p.join("v.bin"), body)?))
            .unwrap()
            .dir
    }

    #[test]
    fn truncated_or_altered_entries_are_quarantined_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = KeyBuilder::new("s", 1).finish();
        let path = published(&store, &key, &[7u8; 1000]);
        // Truncated on a shared filesystem.
        std::fs::write(path.join("v.bin"), [7u8; 10]).unwrap();
        assert!(!store.contains("s", &key), "size check sees truncation");
        assert!(store.lookup("s", &key).is_none());
        assert!(!path.exists(), "moved aside");
        assert_eq!(
            std::fs::read_dir(dir.path().join("quarantine"))
                .unwrap()
                .count(),
            1
        );
        assert!(store.warnings()[0].contains("v.bin has 10 bytes"));
        let a = store
            .get_or_build("s", &key, |p| {
                Ok(std::fs::write(p.join("v.bin"), [7u8; 1000])?)
            })
            .unwrap();
        assert!(!a.cached, "rebuilt");
        // Same size, other bytes: only the hash tells.
        std::fs::write(a.dir.join("v.bin"), [8u8; 1000]).unwrap();
        assert!(store.contains("s", &key), "sizes alone cannot tell");
        assert!(store.lookup("s", &key).is_none(), "the hash does");
        // An entry without a manifest (unfinished, or from an older vaerun).
        let bare = store.path("s", &key);
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::write(bare.join("v.bin"), b"x").unwrap();
        assert!(store.lookup("s", &key).is_none());
        assert!(store.warnings().last().unwrap().contains("no manifest"));
    }

    #[test]
    fn a_reader_that_rejects_an_entry_gets_it_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = KeyBuilder::new("s", 1).finish();
        // A well-formed entry with the wrong content for its reader: 10 rows
        // where the caller has 240 tracks.
        published(&store, &key, &[0u8; 10]);
        let load = |p: &std::path::Path| -> Result<usize> {
            let n = std::fs::read(p.join("v.bin"))?.len();
            anyhow::ensure!(n == 240, "latent has {n} rows, expected 240");
            Ok(n)
        };
        let (n, a) = store
            .load_or_build(
                "s",
                &key,
                |p| Ok(std::fs::write(p.join("v.bin"), [0u8; 240])?),
                load,
            )
            .unwrap();
        assert_eq!(n, 240);
        assert!(!a.cached);
        assert!(store.warnings()[0].contains("expected 240"));
        let (_, a) = store
            .load_or_build("s", &key, |_| unreachable!(), load)
            .unwrap();
        assert!(a.cached);
    }

    #[test]
    fn a_long_build_survives_a_concurrent_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let other = Store::open(dir.path()).unwrap();
        let key = KeyBuilder::new("s", 1).finish();
        let (started, finish) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|s| {
            s.spawn(|| {
                store
                    .publish("s", &key, |p| {
                        std::fs::write(p.join("v.bin"), b"slow")?;
                        started.wait();
                        finish.wait();
                        Ok(())
                    })
                    .unwrap();
            });
            started.wait();
            // Make the build look hours old: age must not matter.
            for e in std::fs::read_dir(dir.path().join("tmp")).unwrap() {
                let f = std::fs::File::open(e.unwrap().path().join("v.bin")).unwrap();
                let _ = f.set_modified(
                    std::time::SystemTime::now() - std::time::Duration::from_secs(7200),
                );
            }
            assert!(other.sweep_stale_tmp().is_empty(), "a live build is kept");
            finish.wait();
        });
        assert!(store.contains("s", &key));
        // A folder whose owner died is swept.
        let dead = dir.path().join("tmp/s-dead");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(
            dead.join(lease::LEASE_FILE),
            serde_json::to_vec(&lease::Lease {
                host: lease::hostname(),
                pid: 4_194_304 + 11,
            })
            .unwrap(),
        )
        .unwrap();
        let removed = other.sweep_stale_tmp();
        assert_eq!(removed.len(), 1);
        assert!(!dead.exists());
    }
}
