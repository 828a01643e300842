//! `runner sample` end to end: tiny models trained through `runner run
//! --cell` on the built-in corpus, then sampled; shapes, units, audio,
//! determinism, and the errors (unknown, untrained and baseline cells, a
//! missing or unknown condition).

mod common;

use std::path::Path;

use common::{runner, text};

const N_MELS: usize = 16;
const FRAMES: usize = 24;
const HOP: usize = 128;
const N_MFCC: usize = 8;

fn experiment(dir: &Path) -> std::path::PathBuf {
    let body = format!(
        r#"[experiment]
name = "sampling"
seeds = [0]
cache_dir = "{cache}"

[dataset]
kind = "synthetic"
classes = 3
clips_per_class = 6
duration = 1.0
sample_rate = 16000

[features.mel]
kind = "sequence"
features = ["melspectrogram"]
n_mels = {N_MELS}
n_mfcc = {N_MELS}
n_fft = 512
hop_length = {HOP}
frames = {FRAMES}

[features.mfcc]
n_mfcc = {N_MFCC}
n_mels = 32
n_fft = 512
hop_length = {HOP}

[models.conv]
kind = "conv_vae"
features = "mel"
channels = [4]
kernel_size = 3
latent_dim = 3
epochs = 3

[models.vae]
kind = "vae"
features = "mfcc"
latent_dim = 3
hidden = [8]
epochs = 3

[models.cv]
kind = "cvae"
features = "mfcc"
condition = "language"
latent_dim = 3
hidden = [8]
epochs = 3

[baselines.pca]
kind = "pca"
features = "mfcc"
n_components = 3

[clusterers.kmeans]
kind = "kmeans"
k = "labels"
n_init = 2

[report]
out_dir = "{reports}"
"#,
        cache = dir.join("cache").display(),
        reports = dir.join("reports").display()
    );
    common::write(dir, "sampling.toml", &body)
}

fn sample(dir: &Path, exp: &Path, cell: &str, extra: &[&str], out: &str) -> std::process::Output {
    let mut args = vec![
        "sample",
        exp.to_str().unwrap(),
        "--cell",
        cell,
        "--out",
        out,
    ];
    args.extend(extra);
    runner(dir, &args)
}

fn train(dir: &Path, exp: &Path, cell: &str) {
    let o = runner(dir, &["run", exp.to_str().unwrap(), "--cell", cell, "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn samples_a_mel_model_into_matrices_images_and_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = experiment(dir);
    let cell = "mel/conv/kmeans/seed=0";

    // Not trained yet: exit 3, with the command that trains it.
    let o = sample(dir, &exp, cell, &[], "out");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("not trained yet"), "{}", text(&o));
    assert!(text(&o).contains("runner run"), "{}", text(&o));

    train(dir, &exp, cell);
    let o = sample(dir, &exp, cell, &["--n", "3", "--seed", "5"], "out");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = dir.join("out");
    for i in 0..3 {
        let m: ndarray::Array2<f32> =
            ndarray_npy::read_npy(out.join(format!("sample_{i:02}.npy"))).unwrap();
        assert_eq!(m.dim(), (N_MELS, FRAMES));
        assert!(m.iter().all(|v| v.is_finite()));
        // Back in dB (the features' units), not standardised values.
        let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
        let sd =
            (m.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / m.len() as f64).sqrt();
        assert!(
            sd > 2.0 || mean.abs() > 5.0,
            "dB values: mean {mean}, sd {sd}"
        );
        let png = std::fs::read(out.join(format!("sample_{i:02}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let wav = hound::WavReader::open(out.join(format!("sample_{i:02}.wav"))).unwrap();
        assert_eq!(wav.spec().sample_rate, 16000);
        assert_eq!(wav.len() as usize, HOP * (FRAMES - 1));
    }
    assert!(!out.join("sample_03.npy").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("samples.json")).unwrap()).unwrap();
    assert_eq!(manifest["units"], "features");
    assert_eq!(manifest["shape"], serde_json::json!([N_MELS, FRAMES]));
    assert_eq!(manifest["cell"], cell);

    // The same seed gives the same samples; another seed other ones.
    let o = sample(dir, &exp, cell, &["--n", "3", "--seed", "5"], "again");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let read = |d: &str| std::fs::read(dir.join(d).join("sample_01.npy")).unwrap();
    assert_eq!(read("out"), read("again"));
    let o = sample(dir, &exp, cell, &["--n", "3", "--seed", "6"], "other");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(read("out"), read("other"));
}

#[test]
fn samples_summary_and_conditional_models_and_rejects_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = experiment(dir);

    let o = sample(dir, &exp, "mfcc/vea/kmeans/seed=0", &[], "x");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no cell"), "{}", text(&o));
    assert!(text(&o).contains("mfcc/vae/kmeans/seed=0"), "{}", text(&o));

    let o = sample(dir, &exp, "mfcc/pca/kmeans/seed=0", &[], "x");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("baseline"), "{}", text(&o));

    train(dir, &exp, "mfcc/vae/kmeans/seed=0");
    let o = sample(dir, &exp, "mfcc/vae/kmeans/seed=0", &["--n", "4"], "vae");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: ndarray::Array1<f32> =
        ndarray_npy::read_npy(dir.join("vae").join("sample_03.npy")).unwrap();
    assert_eq!(v.len(), 2 * N_MFCC); // mean and std of each coefficient
    assert!(dir.join("vae").join("samples.svg").is_file());
    assert!(!dir.join("vae").join("sample_00.wav").exists());
    let o = sample(
        dir,
        &exp,
        "mfcc/vae/kmeans/seed=0",
        &["--condition", "en"],
        "x",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a conditional model"), "{}", text(&o));

    train(dir, &exp, "mfcc/cv/kmeans/seed=0");
    let o = sample(dir, &exp, "mfcc/cv/kmeans/seed=0", &[], "x");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--condition"), "{}", text(&o));
    assert!(text(&o).contains("en"), "{}", text(&o));
    let o = sample(
        dir,
        &exp,
        "mfcc/cv/kmeans/seed=0",
        &["--condition", "klingon"],
        "x",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("klingon"), "{}", text(&o));
    for lang in ["en", "bn"] {
        let o = sample(
            dir,
            &exp,
            "mfcc/cv/kmeans/seed=0",
            &["--n", "2", "--condition", lang],
            lang,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    // Same codes, another condition: other samples.
    let read = |d: &str| std::fs::read(dir.join(d).join("sample_00.npy")).unwrap();
    assert_ne!(read("en"), read("bn"));
}
