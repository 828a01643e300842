#![allow(dead_code)]
//! Shared helpers: a tiny synthetic experiment that runs in seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the real `runner` binary in `dir`.
pub fn runner(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A command's stdout and stderr, for assertions and failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small but complete experiment: 3 classes x 6 clips of 1 s at 16 kHz.
pub fn tiny_experiment(cache: &Path, reports: &Path) -> String {
    format!(
        r#"[experiment]
name = "tiny"
seeds = [0, 1]
cache_dir = "{cache}"

[dataset]
kind = "synthetic"
classes = 3
clips_per_class = 6
duration = 1.0
sample_rate = 16000
overlap = 0.0

[features.mfcc]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256

[models.vae]
kind = "vae"
latent_dim = 4
hidden = [16]
epochs = 15
batch_size = 8

[baselines.pca]
kind = "pca"
n_components = 4

[baselines.raw]
kind = "raw"

[clusterers.kmeans]
kind = "kmeans"
k = "labels"
n_init = 3

[report]
out_dir = "{reports}"
"#,
        cache = cache.display(),
        reports = reports.display()
    )
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The librosa / scikit-learn reference vectors: `tests/fixtures/golden`
/// (made by tests/fixtures/make_golden.py; VAERUN_GOLDEN points elsewhere).
pub fn golden() -> PathBuf {
    let p = std::env::var_os("VAERUN_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden"));
    assert!(
        p.join("index.json").is_file(),
        "golden files not found at {} (regenerate with tests/fixtures/make_golden.py)",
        p.display()
    );
    p
}

/// A JSON fixture, read from `path` or, when only a compressed copy is
/// stored, from `path.gz`.
pub fn read_json(path: &Path) -> serde_json::Value {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => {
            let f = std::fs::File::open(&gz)
                .unwrap_or_else(|e| panic!("{} (or .gz): {e}", path.display()));
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(f), &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
            out
        }
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
