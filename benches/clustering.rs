//! Clustering throughput: K-Means (k = 10, n_init = 10) and silhouette on
//! 1000 × 16 blobs (the data of `oracle.py perf`: make_blobs(1000, 16,
//! centers=10, cluster_std=2, random_state=0)), t-SNE of 1000 points, and
//! silhouette at 20 000 points with its peak memory.
//!
//!     cargo bench --bench clustering
//!     VAERUN_PYTHON=.venv-reference/bin/python cargo bench --bench clustering   # side by side
//!
//! Medians of runs 2..N, like the reference; run with RAYON_NUM_THREADS=1 to
//! compare with scikit-learn's one-thread figures.

use std::time::Instant;

#[path = "common.rs"]
mod common;
use common::{peak_rss_mb, reference, NO_REFERENCE};

use ndarray::Array2;
use vaerun::cluster::{metrics, project};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/blobs_1000x16.csv"
    );
    let x = vaerun::cluster::io::read_matrix(std::path::Path::new(path)).unwrap();
    let xf = x.mapv(|v| v as f32);
    let t: toml::Table = "kind = \"kmeans\"\nk = 10\nn_init = 10".parse().unwrap();
    let km = vaerun::cluster::parse(&t, &[]).unwrap();
    let threads = rayon::current_num_threads();
    let runs = 11;
    let (mut tk, mut ts) = (Vec::new(), Vec::new());
    for r in 0..runs {
        let t0 = Instant::now();
        let labels = km.fit_predict(&xf, None, r).unwrap();
        let t1 = Instant::now();
        let (enc, k) = metrics::encode(&labels);
        std::hint::black_box(metrics::silhouette(x.view(), &enc, k));
        let t2 = Instant::now();
        if r > 0 {
            tk.push((t1 - t0).as_secs_f64());
            ts.push((t2 - t1).as_secs_f64());
        }
    }
    let (k_ms, s_ms) = (median(tk) * 1e3, median(ts) * 1e3);
    println!("vaerun  kmeans(k=10, n_init=10) 1000x16: {k_ms:.2} ms   silhouette: {s_ms:.2} ms   ({threads} threads)");
    match reference("sklearn_clustering.py", &[path.to_string()]) {
        None => println!("{NO_REFERENCE}"),
        Some(v) => {
            let (sk, ss) = (
                v["kmeans_s"].as_f64().unwrap() * 1e3,
                v["silhouette_s"].as_f64().unwrap() * 1e3,
            );
            println!("sklearn kmeans(k=10, n_init=10) 1000x16: {sk:.2} ms   silhouette: {ss:.2} ms   (1 thread)");
            println!(
                "speed-up: kmeans {:.1}x, silhouette {:.1}x",
                sk / k_ms,
                ss / s_ms
            );
        }
    }

    let t0 = Instant::now();
    let p = project::tsne(&xf, 30.0, 1000, 0.5, 0).unwrap();
    std::hint::black_box(p);
    println!(
        "vaerun  t-SNE 1000x16 -> 2, 1000 iterations: {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    // 20 000 points: 20 copies of the blobs with a small shift each.
    let big = Array2::from_shape_fn((20_000, 16), |(i, j)| {
        x[[i % 1000, j]] + (i / 1000) as f64 * 1e-3
    });
    let labels: Vec<usize> = (0..20_000).map(|i| i % 10).collect();
    let before = peak_rss_mb();
    let t0 = Instant::now();
    std::hint::black_box(metrics::silhouette(big.view(), &labels, 10));
    println!(
        "vaerun  silhouette 20000x16: {:.2} s, peak RSS {:.0} MB (before: {before:.0} MB; a full distance matrix would be 3200 MB)",
        t0.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
}
