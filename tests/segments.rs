//! Segment-level features: each track cut into windows, models trained on
//! windows, a track's representation pooled from its windows' latents;
//! baselines pooled the same way; caching still per track.

mod common;

use vaerun::pipeline::{self, RunOptions};
use vaerun::spec::Experiment;

fn run(file: &std::path::Path, set: &[&str]) -> vaerun::report::results::RunRecord {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    let exp = Experiment::load(file, &set).unwrap_or_else(|e| panic!("{e}"));
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

fn latent(cache: &std::path::Path, key: &str) -> ndarray::Array2<f32> {
    ndarray_npy::read_npy(
        cache
            .join("represent")
            .join(&key[..2])
            .join(key)
            .join("latent.npy"),
    )
    .unwrap()
}

#[test]
fn windows_train_models_and_pool_into_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // 1 s clips cut into 0.5 s windows every 0.25 s: 3 windows per track.
    let text = common::tiny_experiment(&cache, &dir.path().join("reports")).replace(
        "hop_length = 256",
        "hop_length = 256\nsegment = { seconds = 0.5, hop = 0.25 }",
    );
    let f = common::write(dir.path(), "seg.toml", &text);
    let rec = run(&f, &[]);
    assert!(rec
        .cells
        .iter()
        .all(|c| c.status == vaerun::report::results::CellStatus::Ok));
    let ids: Vec<&str> = rec.cells.iter().map(|c| c.cell.as_str()).collect();
    assert!(
        ids.contains(&"mfcc@0.5s/0.25s/vae/kmeans/seed=0"),
        "the cell id shows the segmentation: {ids:?}"
    );
    // One cached artifact per track, holding its windows.
    assert_eq!(rec.cache["features"].misses, 18);
    let track = std::fs::read_dir(cache.join("features"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .next()
        .unwrap()
        .unwrap()
        .path();
    let x: ndarray::Array2<f32> = ndarray_npy::read_npy(track.join("x.npy")).unwrap();
    assert_eq!(x.dim(), (3, 26), "3 windows x (13 MFCC x mean, std)");
    // Latents are per track: mean and std of the window latents (default pool).
    for c in &rec.cells {
        let z = latent(&cache, &c.keys["represent"]);
        assert_eq!(z.nrows(), 18, "{}", c.cell);
        let per_window = match c.representation.as_str() {
            "vae" | "pca" => 4,
            "raw" => 26,
            other => panic!("{other}"),
        };
        assert_eq!(z.ncols(), 2 * per_window, "{}", c.cell);
    }
    // The pooling is a representation matter: changing it refits, but the
    // per-track features stay cached.
    let again = run(&f, &["features.mfcc.pool=[\"mean\", \"max\"]"]);
    assert_eq!(again.cache["features"].misses, 0);
    assert_eq!(again.cache["represent"].misses, 4);
    // Nonsense windows and pooling without windows are spec errors.
    let e = Experiment::load(&f, &["features.mfcc.segment.seconds=0".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("features.mfcc.segment.seconds: must be a positive"),
        "{e}"
    );
    let bad = common::write(
        dir.path(),
        "pool.toml",
        &common::tiny_experiment(&cache, &dir.path().join("reports"))
            .replace("hop_length = 256", "hop_length = 256\npool = [\"max\"]"),
    );
    let e = Experiment::load(&bad, &[]).unwrap_err().to_string();
    assert!(
        e.contains("features.mfcc.pool") && e.contains("set `segment"),
        "{e}"
    );
}
