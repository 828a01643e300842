//! Leases on builds in progress. A cache on a shared filesystem is written by
//! many processes on many machines, and a ConvVAE can train for hours, so a
//! build's age says nothing about whether its owner is alive. Each build
//! folder under `tmp/` holds a `.lease` file naming its host and pid, whose
//! modification time a background thread refreshes every
//! [`HEARTBEAT`]. A sweep removes a folder only when its owner is provably
//! gone: same host and the pid no longer exists, or no heartbeat for
//! [`EXPIRY`] (an owner on another machine that died or lost the
//! filesystem).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub const LEASE_FILE: &str = ".lease";
/// How often a live build's lease is refreshed.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// A lease not refreshed for this long belongs to a dead owner: fifteen
/// missed heartbeats, generous for a loaded NFS server.
pub const EXPIRY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub host: String,
    pub pid: u32,
}

impl Lease {
    pub fn mine() -> Lease {
        Lease {
            host: hostname(),
            pid: std::process::id(),
        }
    }
}

/// This machine's name (`gethostname`), as SLURM and `hostname` show it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it on success.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".into()
    }
}

/// Whether a process with this pid exists on this machine.
fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the pid exists and may be signalled.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The leases this process holds, refreshed by one background thread.
fn held() -> &'static Mutex<HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HELD.get_or_init(|| {
        std::thread::Builder::new()
            .name("vaerun-lease-heartbeat".into())
            .spawn(|| loop {
                std::thread::sleep(HEARTBEAT);
                let paths: Vec<PathBuf> = held().lock().unwrap().iter().cloned().collect();
                for p in paths {
                    touch(&p);
                }
            })
            .expect("spawn the lease heartbeat thread");
        Mutex::new(HashSet::new())
    })
}

fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Takes a lease on a fresh build folder; it is refreshed until [`release`].
pub fn acquire(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(LEASE_FILE);
    std::fs::write(
        &path,
        serde_json::to_vec(&Lease::mine()).expect("lease serialises"),
    )?;
    held().lock().unwrap().insert(path);
    Ok(())
}

/// Stops refreshing the lease and removes its file (before the folder is
/// published, so that it never becomes part of an artifact).
pub fn release(dir: &Path) {
    let path = dir.join(LEASE_FILE);
    held().lock().unwrap().remove(&path);
    let _ = std::fs::remove_file(path);
}

/// Why a build folder may be removed, or None while its owner may be alive.
pub fn stale(dir: &Path) -> Option<String> {
    let path = dir.join(LEASE_FILE);
    let age = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
    };
    match std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Lease>(&b).ok())
    {
        Some(lease) => {
            if lease.host == hostname() && !alive(lease.pid) {
                return Some(format!("its owner (pid {}) has exited", lease.pid));
            }
            let silent = age(&path)?;
            (silent > EXPIRY).then(|| {
                format!(
                    "no heartbeat from {} pid {} for {} s",
                    lease.host,
                    lease.pid,
                    silent.as_secs()
                )
            })
        }
        // No readable lease: a folder between its lease's release and its
        // rename, or one left by a version without leases. Only age says
        // anything then, and the window is a fraction of a second.
        None => {
            let quiet = age(dir)?;
            (quiet > EXPIRY).then(|| format!("no lease, untouched for {} s", quiet.as_secs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_keeps_its_folder_whatever_its_age() {
        let dir = tempfile::tempdir().unwrap();
        acquire(dir.path()).unwrap();
        // Backdate the folder and the lease as if the build had run for hours.
        let old = SystemTime::now() - Duration::from_secs(6 * 3600);
        std::fs::File::open(dir.path())
            .unwrap()
            .set_modified(old)
            .ok();
        assert_eq!(stale(dir.path()), None, "own pid is alive");
        release(dir.path());
        assert!(!dir.path().join(LEASE_FILE).exists());
    }

    #[test]
    fn dead_or_silent_owners_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot exist on Linux (above pid_max's hard limit).
        let dead = Lease {
            host: hostname(),
            pid: 4_194_304 + 7,
        };
        std::fs::write(
            dir.path().join(LEASE_FILE),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        assert!(stale(dir.path()).unwrap().contains("exited"));

        let elsewhere = Lease {
            host: "another-node".into(),
            pid: std::process::id(),
        };
        let path = dir.path().join(LEASE_FILE);
        std::fs::write(&path, serde_json::to_vec(&elsewhere).unwrap()).unwrap();
        assert_eq!(stale(dir.path()), None, "fresh heartbeat from another host");
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - EXPIRY - Duration::from_secs(5))
            .unwrap();
        assert!(stale(dir.path()).unwrap().contains("no heartbeat"));
    }
}
