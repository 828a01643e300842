//! All six representation kinds train from TOML through the real CLI, on
//! a manifest dataset with bilingual lyrics; a CVAE conditioned on the
//! label is flagged as a label leak; the shipped experiments run on the
//! built-in corpus with `--set dataset.kind=synthetic`.

mod common;

use std::path::Path;

use common::{runner, text};

const MODELS: &str = r#"
[features.audio]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256

[features.seq]
kind = "sequence"
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256
frames = 31

[features.both]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256
lyrics = { kind = "tfidf", stop_words = ["en", "bn"] }

[models.beta]
kind = "beta_vae"
features = "audio"
beta = 4.0
kl_warmup = 3
latent_dim = 3
hidden = [16]
epochs = 8

[models.cvae_lang]
kind = "cvae"
features = "audio"
condition = "language"
latent_dim = 3
hidden = [16]
epochs = 8

[models.cvae_label]
kind = "cvae"
features = "audio"
condition = "label"
latent_dim = 3
hidden = [16]
epochs = 8

[models.conv]
kind = "conv_vae"
features = "seq"
channels = [4, 8]
kernel_size = 3
latent_dim = 3
epochs = 4

[models.hybrid]
kind = "hybrid_vae"
features = "both"
latent_dim = 3
audio_hidden = [16]
lyrics_hidden = [8]
lyrics_loss = "bce"
epochs = 8

[models.vae]
kind = "vae"
features = "both"
latent_dim = 3
hidden = [16]
epochs = 8
validation_split = 0.2
early_stopping = 3

[baselines.ae]
kind = "autoencoder"
features = "audio"
latent_dim = 3
hidden = [16]
epochs = 8

[clusterers.kmeans]
kind = "kmeans"
k = "labels"
n_init = 2
"#;

/// Writes a corpus with `runner synth` and a manifest over it with a
/// `language` column (from the lyrics' script) and lyrics as text.
fn manifest_dataset(dir: &Path) {
    let o = runner(
        dir,
        &[
            "synth",
            "--out",
            "corpus",
            "--set",
            "classes=3",
            "--set",
            "clips_per_class=8",
            "--set",
            "duration=1.0",
            "--set",
            "sample_rate=16000",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut csv = String::from("path,label,lyrics,language\n");
    let mut files: Vec<_> = walk(&dir.join("corpus"));
    files.sort();
    for wav in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
    {
        let rel = wav.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        let label = wav
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let lyrics = std::fs::read_to_string(wav.with_extension("txt")).unwrap_or_default();
        let lang = vaerun::text::language_of(&lyrics);
        csv.push_str(&format!("{rel},{label},\"{}\",{lang}\n", lyrics.trim()));
    }
    std::fs::write(dir.join("songs.csv"), csv).unwrap();
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_model_trains_from_toml_on_a_manifest_with_lyrics() {
    let dir = tempfile::tempdir().unwrap();
    manifest_dataset(dir.path());
    let spec = format!(
        "[experiment]\nname = \"family\"\nseeds = [0]\ncache_dir = \"cache\"\n\n[dataset]\nkind = \"manifest\"\npath = \"songs.csv\"\nsample_rate = 16000\n{MODELS}\n[report]\nout_dir = \"reports\"\n"
    );
    std::fs::write(dir.path().join("family.toml"), spec).unwrap();
    let o = runner(dir.path(), &["run", "family.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/family/results.json")).unwrap(),
    )
    .unwrap();
    let cells = rec["cells"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<&str> = cells
        .iter()
        .map(|c| c["representation_kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec![
            "autoencoder",
            "beta_vae",
            "conv_vae",
            "cvae",
            "hybrid_vae",
            "vae"
        ]
    );
    for c in cells {
        assert_eq!(c["status"], "ok", "{c}");
        let leak = c.get("label_leak").and_then(|v| v.as_str());
        assert_eq!(
            leak.is_some(),
            c["representation"] == "cvae_label",
            "{}",
            c["cell"]
        );
    }
    // The label leak is said where readers look: the warnings and the report's top.
    assert!(rec["warnings"]
        .to_string()
        .contains("label leak: `cvae_label`"));
    let md = std::fs::read_to_string(dir.path().join("reports/family/report.md")).unwrap();
    let top = &md[..md.find("| # |").unwrap()];
    assert!(top.contains("⚠ label leak"), "{top}");
    assert!(md.contains("cvae_label/kmeans ⚠ label leak"));
    // Loss histories, with validation losses for the early-stopped model.
    let histories = rec["histories"].as_object().unwrap();
    assert_eq!(histories.len(), 7);
    assert!(histories.values().any(|h| h[0].get("validation").is_some()));
}

#[test]
fn shipped_experiments_run_on_the_built_in_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["easy", "medium", "hard"] {
        let file = root.join(format!("experiments/{name}.toml"));
        let file = file.to_str().unwrap();
        // Without the data, the error says where to put it and how to fall back.
        let dir = tempfile::tempdir().unwrap();
        let o = runner(
            dir.path(),
            &[
                "run",
                file,
                "-q",
                "--set",
                "experiment.cache_dir=c",
                "--set",
                "report.out_dir=r",
            ],
        );
        assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("--set dataset.kind=synthetic"),
            "{}",
            text(&o)
        );
        let o = runner(
            dir.path(),
            &["validate", file, "--set", "dataset.kind=synthetic"],
        );
        assert!(o.status.success(), "{name}: {}", text(&o));
    }
    // The easy one end to end, shortened to keep the test fast.
    let dir = tempfile::tempdir().unwrap();
    let file = root.join("experiments/easy.toml");
    let o = runner(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "-q",
            "--set",
            "dataset.kind=synthetic",
            "--set",
            "dataset.clips_per_class=10",
            "--set",
            "dataset.duration=1.0",
            "--set",
            "models.vae.epochs=10",
            "--set",
            "experiment.cache_dir=c",
            "--set",
            "report.out_dir=r",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dir.path().join("r/easy/report.html").is_file());
}

/// Embeddings made by another tool, clustered without any audio: three
/// separated blobs in 8-D from a .npy and labels from a .txt.
#[test]
fn precomputed_embeddings_cluster_without_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = ndarray::Array2::<f64>::zeros((60, 8));
    let mut labels = String::new();
    for r in 0..60 {
        let c = r % 3;
        for j in 0..8 {
            // Deterministic jitter, well inside the 10-unit separation.
            x[[r, j]] = (c * 10) as f64 * if j % 2 == 0 { 1.0 } else { -1.0 }
                + ((r * 7 + j * 3) % 11) as f64 / 11.0;
        }
        labels.push_str(&format!("class{c}\n"));
    }
    ndarray_npy::write_npy(dir.path().join("emb.npy"), &x).unwrap();
    std::fs::write(dir.path().join("labels.txt"), labels).unwrap();
    let spec = r#"[experiment]
name = "pre"
cache_dir = "cache"
[dataset]
kind = "precomputed"
path = "emb.npy"
labels = "labels.txt"
[features.emb]
[baselines.raw]
kind = "raw"
[models.vae]
kind = "vae"
latent_dim = 2
hidden = [16]
epochs = 30
[clusterers.kmeans]
kind = "kmeans"
k = "labels"
[report]
out_dir = "reports"
"#;
    std::fs::write(dir.path().join("pre.toml"), spec).unwrap();
    let o = runner(dir.path(), &["run", "pre.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/pre/results.json")).unwrap(),
    )
    .unwrap();
    for c in rec["cells"].as_array().unwrap() {
        let nmi = c["metrics"]["nmi_arithmetic"].as_f64().unwrap();
        assert!(nmi > 0.99, "{}: NMI {nmi}", c["cell"]);
    }
    assert_eq!(rec["dataset"]["tracks"], 60);
    let o = runner(dir.path(), &["plan", "pre.toml"]);
    assert!(text(&o).contains("fully cached"), "{}", text(&o));
}
