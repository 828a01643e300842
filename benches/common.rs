//! Helpers shared by the benchmarks.

/// Peak resident memory of this process so far, in MB (Linux; NaN elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        })
        .unwrap_or(f64::NAN)
}
