//! The content-addressed cache through the real pipeline: a rerun computes
//! nothing, and a changed parameter recomputes exactly the stages that
//! depend on it (asserted on counts, not timings).

mod common;

use std::collections::BTreeMap;

use vaerun::cache::StageCounts;
use vaerun::pipeline::{self, RunOptions};
use vaerun::spec::Experiment;

fn run(file: &std::path::Path, set: &[&str]) -> vaerun::report::results::RunRecord {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    let exp = Experiment::load(file, &set).unwrap();
    pipeline::run(
        &exp,
        &RunOptions {
            quiet: true,
            cell: None,
        },
    )
    .unwrap()
    .record
}

fn misses(c: &BTreeMap<String, StageCounts>, stage: &str) -> u64 {
    c.get(stage).map_or(0, |s| s.misses)
}

#[test]
fn rerun_is_free_and_changes_recompute_only_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::tiny_experiment(&dir.path().join("cache"), &dir.path().join("reports"));
    let f = common::write(dir.path(), "tiny.toml", &text);

    let first = run(&f, &[]);
    let cells = first.cells.len() as u64;
    assert_eq!(cells, 6, "3 representations x 1 clusterer x 2 seeds");
    assert_eq!(misses(&first.cache, "features"), 18);
    // vae per seed (2) + pca and raw once each: deterministic baselines ignore the seed.
    assert_eq!(misses(&first.cache, "represent"), 4);
    assert_eq!(misses(&first.cache, "cluster"), cells);
    assert_eq!(misses(&first.cache, "score"), cells);

    let again = run(&f, &[]);
    assert!(
        again.cache.values().all(|c| c.misses == 0),
        "{:?}",
        again.cache
    );
    assert_eq!(again.cells, {
        // Identical results apart from timings and cached flags.
        let mut c = first.cells.clone();
        for (a, b) in c.iter_mut().zip(&again.cells) {
            a.timings = b.timings.clone();
            a.cached = b.cached.clone();
        }
        c
    });

    // A clusterer parameter: only clustering and scoring rerun.
    let changed = run(&f, &["clusterers.kmeans.n_init=5"]);
    assert_eq!(misses(&changed.cache, "features"), 0);
    assert_eq!(misses(&changed.cache, "represent"), 0);
    assert_eq!(misses(&changed.cache, "cluster"), cells);
    assert_eq!(misses(&changed.cache, "score"), cells);

    // A model parameter: only that model's cells retrain and rescore.
    let changed = run(&f, &["models.vae.epochs=10"]);
    assert_eq!(misses(&changed.cache, "features"), 0);
    assert_eq!(misses(&changed.cache, "represent"), 2);
    assert_eq!(misses(&changed.cache, "cluster"), 2);

    // The metric list: only scoring.
    let changed = run(
        &f,
        &["metrics.include=[\"silhouette\", \"nmi_arithmetic\"]"],
    );
    assert_eq!(misses(&changed.cache, "cluster"), 0);
    assert_eq!(misses(&changed.cache, "score"), cells);

    // Standardisation is dataset-level: per-track features stay cached.
    let changed = run(&f, &["features.mfcc.standardize=false"]);
    assert_eq!(misses(&changed.cache, "features"), 0);
    assert_eq!(misses(&changed.cache, "represent"), 4);

    // An extraction parameter: every track's features.
    let changed = run(&f, &["features.mfcc.n_mfcc=12"]);
    assert_eq!(misses(&changed.cache, "features"), 18);
}

#[test]
fn same_seed_same_latents_and_metrics_are_finite() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::write(
        dir.path(),
        "a.toml",
        &common::tiny_experiment(&dir.path().join("ca"), &dir.path().join("ra")),
    );
    let b = common::write(
        dir.path(),
        "b.toml",
        &common::tiny_experiment(&dir.path().join("cb"), &dir.path().join("rb")),
    );
    let ra = run(&a, &[]);
    let rb = run(&b, &[]);
    for (x, y) in ra.cells.iter().zip(&rb.cells) {
        assert_eq!(x.keys, y.keys, "{}", x.cell);
        assert_eq!(
            x.metrics, y.metrics,
            "{}: separate caches, same seed, same numbers",
            x.cell
        );
        assert!(
            x.metrics.values().all(|v| v.is_some_and(f64::is_finite)),
            "{}: {:?}",
            x.cell,
            x.metrics
        );
    }
    let latent = |rec: &vaerun::report::results::RunRecord, cache: &str, cell: usize| -> Vec<u8> {
        let key = &rec.cells[cell].keys["represent"];
        std::fs::read(
            dir.path()
                .join(cache)
                .join("represent")
                .join(&key[..2])
                .join(key)
                .join("latent.npy"),
        )
        .unwrap()
    };
    assert_eq!(
        latent(&ra, "ca", 0),
        latent(&rb, "cb", 0),
        "bit-identical VAE latents"
    );
    // Different seeds train differently.
    assert_ne!(ra.cells[0].keys["represent"], ra.cells[1].keys["represent"]);
    assert_ne!(latent(&ra, "ca", 0), latent(&ra, "ca", 1));
}
