//! Writing files as a set (a report folder), or one file, so that a reader
//! sees all old files or all new ones, never a mix or half a file.
//!
//! Every file is first written in full beside its destination under a
//! temporary name and flushed to disk (`sync_all`, so a full disk shows up
//! here, not later); only when every file is written are they renamed into
//! place, `results.json` last. A failure while writing removes the
//! temporaries and leaves every old file as it was. Renames do not need free
//! space, so once the writing succeeded the set is swapped in as a whole;
//! a process killed between two renames leaves new files beside an old
//! `results.json`, which `runner report` re-renders from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// Marks the temporary names, so that leftovers of a killed process can be
/// recognised and swept.
const TMP_MARK: &str = ".vaerun-tmp-";

/// Temporaries older than this are leftovers of a process that died.
const STALE_SECS: u64 = 3600;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Files staged for one swap; dropped without [`FileSet::commit`], it
/// removes what it staged.
pub struct FileSet {
    staged: Vec<(PathBuf, PathBuf)>,
    /// Flush each file to disk before the swap (see the module doc).
    durable: bool,
}

impl Default for FileSet {
    fn default() -> Self {
        FileSet::new()
    }
}

impl FileSet {
    pub fn new() -> FileSet {
        FileSet {
            staged: Vec::new(),
            durable: true,
        }
    }

    /// A set whose files are not flushed before the swap: for many small
    /// files that are cheap to write again (a synthetic corpus), where a
    /// flush per file would cost more than the files.
    pub fn fast() -> FileSet {
        FileSet {
            staged: Vec::new(),
            durable: false,
        }
    }

    /// Writes `bytes` to a temporary file beside `dest`.
    pub fn stage(&mut self, dest: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = temp_name(dest);
        // Recorded before writing, so a failed write is removed too.
        self.staged.push((tmp.clone(), dest.to_path_buf()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.durable {
                f.sync_all()?;
            }
            Ok(())
        };
        write().with_context(|| format!("cannot write {}", dest.display()))
    }

    /// Renames every staged file into place, in staging order.
    pub fn commit(mut self) -> Result<()> {
        let staged = std::mem::take(&mut self.staged);
        for (i, (tmp, dest)) in staged.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, dest) {
                for (t, _) in &staged[i..] {
                    let _ = std::fs::remove_file(t);
                }
                return Err(e).with_context(|| format!("cannot write {}", dest.display()));
            }
        }
        Ok(())
    }
}

impl Drop for FileSet {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// `.name.vaerun-tmp-PID-N` beside `dest`.
fn temp_name(dest: &Path) -> PathBuf {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    dir.join(format!(
        ".{name}{TMP_MARK}{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes temporaries that a killed process left in `dir` (older than an
/// hour, so that a concurrent writer's are never touched).
pub fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().contains(TMP_MARK) {
            continue;
        }
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > STALE_SECS);
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_set_leaves_the_old_files_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        let mut set = FileSet::new();
        set.stage(&a, b"new a").unwrap();
        // A destination whose folder does not exist cannot be staged.
        assert!(set.stage(&dir.path().join("gone/b.txt"), b"new b").is_err());
        drop(set);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "temporaries left: {left:?}");

        let mut set = FileSet::new();
        set.stage(&a, b"new a").unwrap();
        set.stage(&b, b"new b").unwrap();
        set.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
