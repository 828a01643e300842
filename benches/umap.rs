//! UMAP time at 1 000 and 10 000 points (16-D gaussian blobs, 10 centres,
//! default parameters: n_neighbors 15, min_dist 0.1, 500 epochs), against
//! umap-learn on the same points in the same command:
//!
//!     cargo bench --bench umap
//!     VAERUN_PYTHON=/path/to/python-with-umap-learn cargo bench --bench umap
//!
//! Medians over VAERUN_BENCH_REPS runs (default 3) after one warm-up run on
//! each side; umap-learn's warm-up also absorbs numba's JIT compilation, so
//! its figures are warm times. umap-learn runs its SGD on one thread when
//! given a random_state (as here); its nearest-neighbour search uses numba's
//! threads (printed).

use std::time::Instant;

use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

fn blobs(n: usize, seed: u64) -> Array2<f32> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let nrm = Normal::new(0.0, 1.0).unwrap();
    let centres = Array2::from_shape_fn((10, 16), |_| 10.0 * nrm.sample(&mut rng));
    Array2::from_shape_fn((n, 16), |(i, d)| {
        (centres[[i % 10, d]] + 2.0 * nrm.sample(&mut rng)) as f32
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let reps: usize = std::env::var("VAERUN_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let threads = rayon::current_num_threads();
    let dir = tempfile::tempdir().unwrap();
    for n in [1_000, 10_000] {
        let x = blobs(n, 0);
        std::hint::black_box(vaerun::cluster::umap::umap(&x, 15, 0.1, None, 0).unwrap());
        let times: Vec<f64> = (0..reps)
            .map(|r| {
                let t0 = Instant::now();
                std::hint::black_box(
                    vaerun::cluster::umap::umap(&x, 15, 0.1, None, r as u64 + 1).unwrap(),
                );
                t0.elapsed().as_secs_f64()
            })
            .collect();
        let ours = median(times);
        println!("vaerun     UMAP {n} x 16: {ours:.2} s  (median of {reps}, {threads} threads)");
        if let Ok(py) = std::env::var("VAERUN_PYTHON") {
            let path = dir.path().join(format!("blobs_{n}.npy"));
            ndarray_npy::write_npy(&path, &x).unwrap();
            let script = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/reference/umap_compare.py"
            );
            let out = std::process::Command::new(&py)
                .arg(script)
                .arg("time")
                .arg(&path)
                .arg(reps.to_string())
                .output()
                .expect("run python");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
            let theirs = v["median_s"].as_f64().unwrap();
            println!(
                "umap-learn UMAP {n} x 16: {theirs:.2} s  (median of {reps}, warm, numba threads {}, umap-learn {})",
                v["numba_threads"],
                v["umap_learn"].as_str().unwrap_or("?")
            );
            println!("speed-up: {:.1}x", theirs / ours);
        }
    }
}
