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
