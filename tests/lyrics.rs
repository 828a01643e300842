//! Lyrics features against scikit-learn, and the lyrics-aware datasets end
//! to end.

mod common;

use common::{runner, text};
use vaerun::text::tfidf::{DocFreq, RowNorm, TfidfParams};

/// TfidfVectorizer's output for six parameter sets (tests/fixtures/
/// make_tfidf.py, scikit-learn 1.9.1), on pre-tokenised mixed-script
/// documents including an empty one.
#[test]
fn tfidf_matches_scikit_learn() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/tfidf_sklearn.json")).unwrap();
    let docs: Vec<Vec<String>> = fixture["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d.as_str()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    let mut checked = 0;
    for (name, case) in fixture["cases"].as_object().unwrap() {
        let p = &case["params"];
        let freq = |v: &serde_json::Value, default: DocFreq| match v {
            serde_json::Value::Null => default,
            v if v.is_u64() => DocFreq::Count(v.as_u64().unwrap()),
            v => DocFreq::Fraction(v.as_f64().unwrap()),
        };
        let params = TfidfParams {
            max_features: p["max_features"].as_u64().map(|v| v as usize),
            min_df: freq(&p["min_df"], DocFreq::Count(1)),
            max_df: freq(&p["max_df"], DocFreq::Fraction(1.0)),
            sublinear_tf: p["sublinear_tf"].as_bool().unwrap_or(false),
            smooth_idf: p["smooth_idf"].as_bool().unwrap_or(true),
            norm: match p["norm"].as_str() {
                Some("l1") => RowNorm::L1,
                _ => RowNorm::L2,
            },
            ..Default::default()
        };
        let got = params.fit_transform(&docs).unwrap();
        let vocab: Vec<String> = serde_json::from_value(case["vocabulary"].clone()).unwrap();
        assert_eq!(got.vocabulary, vocab, "{name}");
        let idf: Vec<f64> = serde_json::from_value(case["idf"].clone()).unwrap();
        let x: Vec<Vec<f64>> = serde_json::from_value(case["x"].clone()).unwrap();
        // Both sides compute in f64 with the same formulas; 1e-12 leaves
        // room only for a different summation order in the norms.
        for (a, b) in got.idf.iter().zip(&idf) {
            assert!((a - b).abs() < 1e-12, "{name}: idf {a} vs {b}");
        }
        for (r, row) in x.iter().enumerate() {
            for (j, want) in row.iter().enumerate() {
                let have = got.x[[r, j]];
                assert!(
                    (have - want).abs() < 1e-12,
                    "{name}: x[{r},{j}] = {have} vs {want}"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn stop_words_and_mixed_script_tokens() {
    let p = TfidfParams {
        stop_words: vec!["en".into(), "bn".into()],
        ..Default::default()
    };
    assert_eq!(
        p.tokens("The Rain and আমার স্বপ্ন, এবং LOVE!"),
        vec!["rain", "স্বপ্ন", "love"]
    );
}

/// Lyrics embeddings from a local model folder through the real CLI: a
/// lyrics-only feature set and a hybrid one; a rerun takes the embeddings
/// from the cache; a missing folder is named with the files it needs.
#[test]
fn embeddings_from_a_local_model_folder_feed_the_models() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-bert");
    std::fs::create_dir(&model).unwrap();
    vaerun::text::embed::write_tiny_model(&model);
    let spec = format!(
        r#"[experiment]
name = "emb"
cache_dir = "cache"
[dataset]
kind = "synthetic"
classes = 3
clips_per_class = 6
duration = 1.0
sample_rate = 16000
[features.text]
features = []
lyrics = {{ kind = "embedding", model = "{m}", max_length = 32 }}
[features.both]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256
lyrics = {{ kind = "embedding", model = "{m}", max_length = 32 }}
[models.hybrid]
kind = "hybrid_vae"
features = "both"
latent_dim = 3
audio_hidden = [16]
lyrics_hidden = [8]
epochs = 5
[baselines.raw]
kind = "raw"
features = "text"
[clusterers.kmeans]
kind = "kmeans"
k = "labels"
[report]
out_dir = "reports"
"#,
        m = model.display()
    );
    std::fs::write(dir.path().join("emb.toml"), &spec).unwrap();
    let run = || runner(dir.path(), &["run", "emb.toml", "-q"]);
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/emb/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["cells"].as_array().unwrap().len(), 2);
    assert!(
        rec["cache"]["embedding"]["misses"].as_u64().unwrap() > 0,
        "{}",
        rec["cache"]
    );
    let o = run();
    assert_eq!(o.status.code(), Some(0));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/emb/results.json")).unwrap(),
    )
    .unwrap();
    // Nothing was computed the second time: embeddings came from the cache.
    for (stage, c) in rec["cache"].as_object().unwrap() {
        assert_eq!(c["misses"], 0, "{stage} recomputed: {}", rec["cache"]);
    }
    assert!(rec["cache"]["embedding"]["hits"].as_u64().unwrap() > 0);
    // A folder without the model files.
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("emb.toml"),
        spec.replace("name = \"emb\"", "name = \"emb2\""),
    )
    .unwrap();
    let o = run();
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("model.safetensors") && out.contains("nothing is downloaded"),
        "{out}"
    );
}
