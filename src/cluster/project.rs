//! 2-D projections of a latent space for figures: PCA, and t-SNE with the
//! Barnes–Hut approximation, seeded and reproducible.
//!
//! t-SNE follows scikit-learn's `TSNE` defaults: perplexity-calibrated
//! affinities on the 3·perplexity nearest neighbours, PCA initialisation
//! scaled to std 1e-4, early exaggeration 12 for 250 iterations,
//! learning rate max(n / 12 / 4, 50), momentum 0.5 then 0.8, and
//! delta-bar-delta gains. Written here because linfa-tsne cannot be made
//! reproducible for a fixed seed. UMAP lives in [`super::umap`].

use anyhow::{bail, Result};
use linfa::traits::{Fit, Predict};
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Projection {
    /// The first two principal components.
    Pca,
    /// Barnes–Hut t-SNE, seeded.
    Tsne {
        /// t-SNE perplexity (clamped to (n − 1) / 3 on small datasets).
        #[serde(default = "d_perplexity")]
        perplexity: f64,
        /// t-SNE iterations (at least 250).
        #[serde(default = "d_iterations")]
        iterations: usize,
        /// Barnes–Hut accuracy (0 = exact, larger = faster and coarser).
        #[serde(default = "d_theta")]
        theta: f64,
    },
    /// UMAP (see [`super::umap`]); `epochs` defaults to umap-learn's
    /// (500 up to 10 000 points, 200 above).
    Umap {
        /// Neighbours of each point in the fuzzy graph (clamped to n − 1).
        #[serde(default = "d_n_neighbors")]
        n_neighbors: usize,
        /// Minimum distance between embedded points, in [0, 1].
        #[serde(default = "d_min_dist")]
        min_dist: f64,
        /// Optimisation epochs (default: 500 up to 10 000 points, 200 above).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epochs: Option<usize>,
    },
}

fn d_n_neighbors() -> usize {
    15
}
fn d_min_dist() -> f64 {
    0.1
}

fn d_perplexity() -> f64 {
    30.0
}
fn d_iterations() -> usize {
    1000
}
fn d_theta() -> f64 {
    0.5
}

impl Projection {
    /// The method's name as written in the spec (`report.projection.method`).
    pub fn method(&self) -> &'static str {
        match self {
            Projection::Pca => "pca",
            Projection::Tsne { .. } => "tsne",
            Projection::Umap { .. } => "umap",
        }
    }

    /// Checks the parameters; an error names the offending key (relative
    /// to `report.projection`) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match *self {
            Projection::Pca => {}
            Projection::Tsne {
                perplexity,
                iterations,
                theta,
            } => {
                // scikit-learn's constraints on `TSNE`: perplexity > 0,
                // 0 <= angle (theta) <= 1, at least 250 iterations (the
                // early-exaggeration phase alone takes 250).
                if !(perplexity > 0.0 && perplexity.is_finite()) {
                    return Err(("perplexity", "must be a positive number".into()));
                }
                if iterations < 250 {
                    return Err((
                        "iterations",
                        "must be at least 250 (the early-exaggeration phase alone takes 250)"
                            .into(),
                    ));
                }
                if !(0.0..=1.0).contains(&theta) {
                    return Err(("theta", "must be between 0 (exact) and 1".into()));
                }
            }
            Projection::Umap {
                n_neighbors,
                min_dist,
                epochs,
            } => {
                if n_neighbors < 2 {
                    return Err((
                        "n_neighbors",
                        format!("must be at least 2, found {n_neighbors}"),
                    ));
                }
                if !(0.0..=super::umap::SPREAD).contains(&min_dist) {
                    return Err((
                        "min_dist",
                        format!(
                            "must be between 0 and the spread ({}), found {min_dist}",
                            super::umap::SPREAD
                        ),
                    ));
                }
                if epochs == Some(0) {
                    return Err(("epochs", "must be at least 1".into()));
                }
            }
        }
        Ok(())
    }

    pub fn project(&self, x: &Array2<f32>, seed: u64) -> Result<Array2<f32>> {
        match *self {
            Projection::Pca => pca2(x),
            Projection::Tsne {
                perplexity,
                iterations,
                theta,
            } => {
                // On small datasets the perplexity is clamped so that its
                // 3·perplexity neighbourhood fits in the data.
                let fit = ((x.nrows() as f64 - 1.0) / 3.0).max(1.0);
                tsne(x, perplexity.min(fit), iterations, theta, seed)
            }
            Projection::Umap {
                n_neighbors,
                min_dist,
                epochs,
            } => super::umap::umap(x, n_neighbors, min_dist, epochs, seed),
        }
    }
}

/// The first two principal components (zero-padded for 1-D data).
pub fn pca2(x: &Array2<f32>) -> Result<Array2<f32>> {
    let (n, d) = x.dim();
    if n < 3 {
        bail!("need at least 3 points to project, got {n}");
    }
    let xd = x.mapv(|v| v as f64);
    let k = d.min(2);
    let model = linfa_reduction::Pca::params(k).fit(&linfa::DatasetBase::from(xd.clone()))?;
    let z: Array2<f64> = model.predict(&xd);
    let mut out = Array2::<f32>::zeros((n, 2));
    for (i, row) in z.rows().into_iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            out[[i, j]] = *v as f32;
        }
    }
    Ok(out)
}

/// Row-normalised affinities P(j|i) over each point's nearest neighbours,
/// with the Gaussian precision found by bisection so that the entropy of
/// P(·|i) equals ln(perplexity).
fn affinities(x: &Array2<f64>, perplexity: f64) -> Vec<Vec<(usize, f64)>> {
    let n = x.nrows();
    let k = ((3.0 * perplexity + 1.0) as usize).min(n - 1);
    let target = perplexity.ln();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            let mut d: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        xi.iter()
                            .zip(x.row(j))
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>(),
                        j,
                    )
                })
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.truncate(k);
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
            let mut p = vec![0f64; k];
            for _ in 0..100 {
                let mut sum = 0.0;
                for (pj, (dj, _)) in p.iter_mut().zip(&d) {
                    *pj = (-dj * beta).exp();
                    sum += *pj;
                }
                let sum = sum.max(1e-300);
                let mut h = 0.0;
                for (pj, (dj, _)) in p.iter_mut().zip(&d) {
                    *pj /= sum;
                    h += dj * *pj;
                }
                let entropy = sum.ln() + beta * h;
                let diff = entropy - target;
                if diff.abs() <= 1e-5 {
                    break;
                }
                if diff > 0.0 {
                    lo = beta;
                    beta = if hi.is_finite() {
                        (beta + hi) / 2.0
                    } else {
                        beta * 2.0
                    };
                } else {
                    hi = beta;
                    beta = if lo.is_finite() {
                        (beta + lo) / 2.0
                    } else {
                        beta / 2.0
                    };
                }
            }
            d.iter().zip(p).map(|(&(_, j), pj)| (j, pj)).collect()
        })
        .collect()
}

/// A quadtree node: centre of mass and count of the points below it.
struct Node {
    cx: f64,
    cy: f64,
    half: f64,
    com: [f64; 2],
    count: usize,
    children: Option<[u32; 4]>,
    /// The single point of a leaf (a leaf may hold several identical points).
    point: Option<[f64; 2]>,
}

struct QuadTree {
    nodes: Vec<Node>,
}

impl QuadTree {
    fn build(y: &[[f64; 2]]) -> QuadTree {
        let (mut minx, mut miny, mut maxx, mut maxy) = (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        );
        for p in y {
            minx = minx.min(p[0]);
            maxx = maxx.max(p[0]);
            miny = miny.min(p[1]);
            maxy = maxy.max(p[1]);
        }
        let half = ((maxx - minx).max(maxy - miny) / 2.0).max(1e-12) * 1.0001;
        let mut t = QuadTree {
            nodes: Vec::with_capacity(4 * y.len()),
        };
        t.nodes
            .push(Node::new((minx + maxx) / 2.0, (miny + maxy) / 2.0, half));
        for p in y {
            t.insert(0, *p, 0);
        }
        t
    }

    fn insert(&mut self, idx: usize, p: [f64; 2], depth: usize) {
        let node = &mut self.nodes[idx];
        let c = node.count as f64;
        node.com = [
            (node.com[0] * c + p[0]) / (c + 1.0),
            (node.com[1] * c + p[1]) / (c + 1.0),
        ];
        node.count += 1;
        if node.count == 1 {
            node.point = Some(p);
            return;
        }
        // Identical points (or absurd depth) stay together in one leaf.
        if depth > 48 || node.point.is_some_and(|q| q == p) && node.children.is_none() {
            return;
        }
        if node.children.is_none() {
            let (cx, cy, h) = (node.cx, node.cy, node.half / 2.0);
            let old = node.point.take();
            let base = self.nodes.len() as u32;
            self.nodes[idx].children = Some([base, base + 1, base + 2, base + 3]);
            for (dx, dy) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
                self.nodes.push(Node::new(cx + dx * h, cy + dy * h, h));
            }
            if let Some(q) = old {
                let child = self.child_for(idx, q);
                // The old point's mass is already counted above this node.
                self.insert(child, q, depth + 1);
            }
        }
        let child = self.child_for(idx, p);
        self.insert(child, p, depth + 1);
    }

    fn child_for(&self, idx: usize, p: [f64; 2]) -> usize {
        let n = &self.nodes[idx];
        let q = usize::from(p[0] >= n.cx) + 2 * usize::from(p[1] >= n.cy);
        n.children.unwrap()[q] as usize
    }

    /// Repulsive force on `p` and its share of the normaliser Z.
    fn repulsion(&self, p: [f64; 2], theta: f64) -> ([f64; 2], f64) {
        let mut force = [0.0, 0.0];
        let mut z = 0.0;
        let mut stack = vec![0usize];
        while let Some(idx) = stack.pop() {
            let n = &self.nodes[idx];
            if n.count == 0 {
                continue;
            }
            let dx = p[0] - n.com[0];
            let dy = p[1] - n.com[1];
            let d2 = dx * dx + dy * dy;
            let far = n.children.is_none() || (2.0 * n.half) * (2.0 * n.half) < theta * theta * d2;
            if far {
                if d2 == 0.0 {
                    continue; // the point itself (or exact duplicates)
                }
                let q = 1.0 / (1.0 + d2);
                let m = n.count as f64;
                z += m * q;
                force[0] += m * q * q * dx;
                force[1] += m * q * q * dy;
            } else if let Some(ch) = n.children {
                stack.extend(ch.iter().map(|&c| c as usize));
            }
        }
        (force, z)
    }
}

impl Node {
    fn new(cx: f64, cy: f64, half: f64) -> Node {
        Node {
            cx,
            cy,
            half,
            com: [0.0, 0.0],
            count: 0,
            children: None,
            point: None,
        }
    }
}

pub fn tsne(
    x: &Array2<f32>,
    perplexity: f64,
    iterations: usize,
    theta: f64,
    seed: u64,
) -> Result<Array2<f32>> {
    let n = x.nrows();
    if n < 4 {
        bail!("t-SNE needs at least 4 points, got {n}");
    }
    if !(perplexity > 0.0 && perplexity < n as f64) {
        bail!("perplexity {perplexity} must be between 0 and the number of points ({n})");
    }
    let xd = x.mapv(|v| v as f64);
    // Symmetrised, normalised affinities as an edge list.
    let cond = affinities(&xd, perplexity);
    let mut sym: std::collections::BTreeMap<(usize, usize), f64> =
        std::collections::BTreeMap::new();
    for (i, row) in cond.iter().enumerate() {
        for &(j, p) in row {
            *sym.entry((i.min(j), i.max(j))).or_default() += p;
        }
    }
    let total: f64 = sym.values().sum::<f64>() * 2.0;
    let mut edges: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (&(i, j), &p) in &sym {
        edges[i].push((j, p / total));
        edges[j].push((i, p / total));
    }
    // PCA initialisation scaled to std 1e-4 (scikit-learn's `init="pca"`);
    // the seed only breaks ties through a tiny jitter.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let init = pca2(x)?;
    let col0: Vec<f64> = init.column(0).iter().map(|&v| v as f64).collect();
    let mean0 = col0.iter().sum::<f64>() / n as f64;
    let std0 = (col0.iter().map(|v| (v - mean0).powi(2)).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-12);
    let mut y: Vec<[f64; 2]> = init
        .rows()
        .into_iter()
        .map(|r| {
            [
                r[0] as f64 / std0 * 1e-4 + rng.gen_range(-1e-8..1e-8),
                r[1] as f64 / std0 * 1e-4 + rng.gen_range(-1e-8..1e-8),
            ]
        })
        .collect();
    let exaggeration_iters = 250.min(iterations);
    let lr = (n as f64 / 12.0 / 4.0).max(50.0);
    let mut update = vec![[0f64; 2]; n];
    let mut gains = vec![[1f64; 2]; n];
    for it in 0..iterations {
        let (exag, momentum) = if it < exaggeration_iters {
            (12.0, 0.5)
        } else {
            (1.0, 0.8)
        };
        let tree = QuadTree::build(&y);
        let rep: Vec<([f64; 2], f64)> = y.par_iter().map(|&p| tree.repulsion(p, theta)).collect();
        let z: f64 = rep.iter().map(|r| r.1).sum::<f64>().max(1e-300);
        let grads: Vec<[f64; 2]> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut attr = [0.0, 0.0];
                for &(j, p) in &edges[i] {
                    let dx = y[i][0] - y[j][0];
                    let dy = y[i][1] - y[j][1];
                    let q = 1.0 / (1.0 + dx * dx + dy * dy);
                    attr[0] += p * q * dx;
                    attr[1] += p * q * dy;
                }
                [
                    4.0 * (exag * attr[0] - rep[i].0[0] / z),
                    4.0 * (exag * attr[1] - rep[i].0[1] / z),
                ]
            })
            .collect();
        for i in 0..n {
            for d in 0..2 {
                let g = grads[i][d];
                gains[i][d] = if (g > 0.0) != (update[i][d] > 0.0) {
                    gains[i][d] + 0.2
                } else {
                    (gains[i][d] * 0.8).max(0.01)
                };
                update[i][d] = momentum * update[i][d] - lr * gains[i][d] * g;
                y[i][d] += update[i][d];
            }
        }
    }
    if y.iter().flatten().any(|v| !v.is_finite()) {
        bail!("t-SNE diverged (non-finite coordinates)");
    }
    Ok(Array2::from_shape_fn((n, 2), |(i, d)| y[i][d] as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Array2<f32>, Vec<usize>) {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let nrm = Normal::new(0.0, 1.0).unwrap();
        let mut v = Vec::new();
        let mut labels = Vec::new();
        for c in 0..3 {
            for _ in 0..60 {
                for d in 0..10 {
                    v.push((if d == c { 12.0 } else { 0.0 } + nrm.sample(&mut rng)) as f32);
                }
                labels.push(c);
            }
        }
        (Array2::from_shape_vec((180, 10), v).unwrap(), labels)
    }

    #[test]
    fn tsne_separates_blobs_and_is_reproducible() {
        let (x, labels) = blobs();
        let a = tsne(&x, 20.0, 400, 0.5, 1).unwrap();
        let b = tsne(&x, 20.0, 400, 0.5, 1).unwrap();
        assert_eq!(a, b, "same seed, same embedding");
        // Every point's nearest embedded neighbour is in its own blob.
        let a64 = a.mapv(|v| v as f64);
        let labels_i: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let sil = crate::cluster::metrics::silhouette(
            a64.view(),
            &crate::cluster::metrics::encode(&labels_i).0,
            3,
        );
        assert!(sil > 0.6, "silhouette of the embedding by true blob: {sil}");
    }

    #[test]
    fn pca_projection_has_two_columns() {
        let (x, _) = blobs();
        let p = pca2(&x).unwrap();
        assert_eq!(p.dim(), (180, 2));
    }
}
