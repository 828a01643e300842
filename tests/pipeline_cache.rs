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
            ..Default::default()
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

/// The artifact folder of a cell's stage.
fn artifact(cache: &std::path::Path, stage: &str, key: &str) -> std::path::PathBuf {
    cache.join(stage).join(&key[..2]).join(key)
}

/// Rewrites an artifact's manifest after its files were changed, as a
/// well-meaning tool (or a bug) would: the entry then passes the manifest
/// check, and only its reader can tell that its content is wrong.
fn reseal(dir: &std::path::Path, stage: &str, key: &str) {
    let m = vaerun::cache::manifest::Manifest::describe(dir, stage, key, 0.0).unwrap();
    m.write(dir).unwrap();
}

#[test]
fn damaged_cache_entries_are_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let text = common::tiny_experiment(&cache, &dir.path().join("reports"));
    let f = common::write(dir.path(), "tiny.toml", &text);
    let first = run(&f, &[]);
    let vae = &first.cells[0];
    assert_eq!(vae.representation, "vae");

    // A valid .npy of the wrong shape: 10 latent rows for 18 tracks, with a
    // manifest that matches it.
    let rk = &vae.keys["represent"];
    let rdir = artifact(&cache, "represent", rk);
    ndarray_npy::write_npy(
        rdir.join("latent.npy"),
        &ndarray::Array2::<f32>::zeros((10, 4)),
    )
    .unwrap();
    reseal(&rdir, "represent", rk);
    // A truncated cluster artifact (a half-copied file on a shared disk).
    let ck = &first.cells[1].keys["cluster"];
    let cfile = artifact(&cache, "cluster", ck).join("labels.npy");
    let bytes = std::fs::read(&cfile).unwrap();
    std::fs::write(&cfile, &bytes[..bytes.len() / 2]).unwrap();

    let again = run(&f, &[]);
    assert_eq!(misses(&again.cache, "represent"), 1, "{:?}", again.cache);
    // Keys name inputs, not their bytes: the rebuilt latent is the one its
    // cell's cached clustering was made from, so that stays; the truncated
    // labels are rebuilt for their own cell.
    assert_eq!(misses(&again.cache, "cluster"), 1, "{:?}", again.cache);
    let warnings = again.warnings.join("\n");
    assert!(
        warnings.contains("latent.npy has 10 rows, the feature set has 18 tracks"),
        "{warnings}"
    );
    assert!(warnings.contains("labels.npy has"), "{warnings}");
    assert!(cache.join("quarantine").read_dir().unwrap().count() >= 2);
    for (a, b) in first.cells.iter().zip(&again.cells) {
        assert_eq!(
            a.metrics, b.metrics,
            "{}: the rebuild is the original",
            a.cell
        );
    }
    // The third run trusts the rebuilt entries.
    let third = run(&f, &[]);
    assert!(
        third.cache.values().all(|c| c.misses == 0),
        "{:?}",
        third.cache
    );
}

#[test]
fn a_cached_rerun_keeps_what_computing_cost() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::tiny_experiment(&dir.path().join("cache"), &dir.path().join("reports"));
    let f = common::write(dir.path(), "tiny.toml", &text);
    let first = run(&f, &[]);
    let again = run(&f, &[]);
    assert!(first.compute_seconds > 0.0);
    assert_eq!(first.compute_seconds, again.compute_seconds);
    for (a, b) in first.cells.iter().zip(&again.cells) {
        assert_eq!(a.timings, b.timings, "{}", a.cell);
        assert!(b.cached.values().all(|&c| c), "{}: {:?}", b.cell, b.cached);
    }
}

#[test]
fn auto_k_is_chosen_recorded_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::tiny_experiment(&dir.path().join("cache"), &dir.path().join("reports"))
        .replace(
            "k = \"labels\"",
            "k = { auto = [2, 5], by = \"silhouette\" }",
        );
    let f = common::write(dir.path(), "tiny.toml", &text);
    let first = run(&f, &[]);
    for c in &first.cells {
        let k = c
            .k_choice
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no k choice", c.cell));
        assert_eq!(
            k.curve.iter().map(|p| p.k).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert!((2..=5).contains(&k.chosen));
        assert_eq!(c.clusters, Some(k.chosen), "{}", c.cell);
        // The chosen k is the best value of the curve (silhouette: highest).
        let best = k
            .curve
            .iter()
            .filter_map(|p| p.value.map(|v| (p.k, v)))
            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        assert_eq!(best.0, k.chosen, "{}", c.cell);
    }
    let again = run(&f, &[]);
    assert_eq!(misses(&again.cache, "cluster"), 0);
    for (a, b) in first.cells.iter().zip(&again.cells) {
        assert_eq!(a.k_choice, b.k_choice, "cached with its curve");
    }
}
