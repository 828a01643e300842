//! Helpers shared by the benchmarks.

/// A memory figure from /proc/self/status (e.g. "VmHWM"), in MB (Linux;
/// NaN elsewhere).
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        })
        .unwrap_or(f64::NAN)
}

/// Peak resident memory of this process so far, in MB (Linux; NaN elsewhere).
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM")
}

/// Resets the peak-RSS high-water mark to the current RSS (Linux ≥ 4.0:
/// writing 5 to /proc/self/clear_refs), so that a later [`peak_rss_mb`]
/// measures only what ran after this. Returns false where unsupported.
#[allow(dead_code)]
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Current resident memory in MB (Linux; NaN elsewhere).
#[allow(dead_code)]
pub fn rss_mb() -> f64 {
    status_mb("VmRSS")
}

/// Runs a reference script (benches/reference/NAME) with the interpreter
/// that `VAERUN_PYTHON` names and returns its last stdout line as JSON;
/// None when no interpreter is given, so a benchmark prints its own figure
/// and says the ratio was not measured. The script runs in this process's
/// command, on this machine, right after vaerun's own measurement: a ratio
/// is only printed from figures measured side by side.
///
/// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which some machines here set for
/// old OpenBLAS builds, slow a current numpy down; they are removed for the
/// reference alone (the scripts report the BLAS kernel they then run).
#[allow(dead_code)]
pub fn reference(script: &str, args: &[String]) -> Option<serde_json::Value> {
    let python = std::env::var_os("VAERUN_PYTHON")?;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reference/").to_string() + script;
    let out = std::process::Command::new(&python)
        .arg(&path)
        .args(args)
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.to_string_lossy()));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    Some(serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {text}")))
}

/// The line a benchmark prints when no reference was measured.
#[allow(dead_code)]
pub const NO_REFERENCE: &str =
    "ratio not measured: set VAERUN_PYTHON to the reference interpreter (benches/reference/setup.sh)";
