//! UMAP (McInnes, Healy & Melville 2018) to 2-D, following umap-learn 0.5's
//! defaults and steps:
//!
//! 1. the exact k-nearest-neighbour graph (the point itself is its own first
//!    neighbour, as in umap-learn);
//! 2. per point, ρ = distance to the nearest other point and σ found by
//!    bisection so that Σⱼ exp(−(dⱼ − ρ)/σ) = log₂ k (`smooth_knn_dist`);
//! 3. membership strengths exp(−(d − ρ)/σ), then the fuzzy union
//!    A + Aᵀ − A∘Aᵀ; edges weaker than max / n_epochs are dropped;
//! 4. spectral initialisation: the eigenvectors of the normalised graph
//!    Laplacian for its 2nd and 3rd smallest eigenvalues (Lanczos below);
//!    a disconnected graph is laid out per component around anchor points,
//!    as umap-learn's `multi_component_layout`; then scaled to max |x| = 10,
//!    jittered by N(0, 1e-4) and min–max scaled to [0, 10];
//! 5. a, b of the low-dimensional kernel 1 / (1 + a d^{2b}) fitted to
//!    min_dist / spread by least squares (umap-learn's `find_ab_params`);
//! 6. SGD over the edges, each sampled in proportion to its weight
//!    (`epochs_per_sample`), 5 negative samples per positive one, gradient
//!    coordinates clipped to ±4, learning rate 1 decaying linearly to 0;
//!    500 epochs up to 10 000 points, 200 above.
//!
//! Written here because no crate on crates.io fits (checked 2026-12): umap-rs
//! 0.4 needs the k-NN graph and initialisation supplied, panics on bad input
//! and runs Hogwild SGD (results depend on thread timing); fast-umap is a
//! parametric (neural-network) variant on the burn framework; annembed pulls
//! in hnsw and a LAPACK build; rag-umap is a 0.0.0 release. Seeded: the SGD
//! runs sequentially over the edges, as umap-learn's does when given a
//! random_state, and every parallel step (k-NN, graph, matrix–vector
//! products, dot products in fixed-size chunks) reduces in a fixed order, so
//! the same seed gives identical coordinates for any thread count.
//!
//! Known differences from umap-learn: exact k-NN at every size (umap-learn
//! switches to NN-descent above 4096 points); the eigenvectors come from a
//! Lanczos iteration with full reorthogonalisation and explicit restarts,
//! whose best Ritz vectors are kept if the restart budget runs out (umap-learn
//! falls back to a random layout when ARPACK fails); with more than four
//! components, the anchors are the components' centroids' first two principal
//! components (umap-learn embeds the centroids spectrally on exp(−d²)
//! affinities, which underflow for well-separated components).

use anyhow::{bail, Result};
use linfa_linalg::eigh::{EigSort, Eigh};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::kmeans::Points;

/// The embedding's dimension (figures are 2-D).
const DIM: usize = 2;
/// umap-learn's defaults.
pub const SPREAD: f64 = 1.0;
const NEGATIVE_SAMPLE_RATE: f64 = 5.0;
const INITIAL_ALPHA: f64 = 1.0;
const REPULSION: f64 = 1.0;
const SMOOTH_K_TOLERANCE: f64 = 1e-5;
const MIN_K_DIST_SCALE: f64 = 1e-3;
/// Dot products are summed per chunk of this many elements, then the
/// chunks in order: parallel, yet independent of the thread count.
const CHUNK: usize = 4096;

/// umap-learn's default number of epochs for `n` points.
pub fn default_epochs(n: usize) -> usize {
    if n <= 10_000 {
        500
    } else {
        200
    }
}

/// Embeds the rows of `x` in 2-D. `n_neighbors` is clamped to n − 1 on
/// small data (as umap-learn does, with a warning there).
pub fn umap(
    x: &Array2<f32>,
    n_neighbors: usize,
    min_dist: f64,
    epochs: Option<usize>,
    seed: u64,
) -> Result<Array2<f32>> {
    let n = x.nrows();
    if n < 4 {
        bail!("UMAP needs at least 4 points, got {n}");
    }
    if n_neighbors < 2 {
        bail!("UMAP needs n_neighbors >= 2, got {n_neighbors}");
    }
    if !(0.0..=SPREAD).contains(&min_dist) {
        bail!("UMAP's min_dist must be between 0 and {SPREAD}, got {min_dist}");
    }
    if x.iter().any(|v| !v.is_finite()) {
        bail!("UMAP input holds a NaN or infinite value");
    }
    let n_epochs = epochs.unwrap_or_else(|| default_epochs(n));
    if n_epochs == 0 {
        bail!("UMAP needs at least 1 epoch");
    }
    let k = n_neighbors.min(n - 1);
    let points = Points::new(x);
    let knn = super::knn::exact(&points, k, true);
    let mut graph = fuzzy_simplicial_set(&knn, n);
    // Edges too weak to be sampled even once are dropped (umap-learn uses
    // its default epoch count for this when fewer than 11 are asked for).
    let prune_epochs = if n_epochs > 10 {
        n_epochs
    } else {
        default_epochs(n)
    };
    graph.prune(graph.max_weight() / prune_epochs as f64);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let init = initialise(&graph, &points, &mut rng)?;
    let mut y: Vec<[f32; DIM]> = init
        .chunks_exact(DIM)
        .map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    let (a, b) = find_ab_params(SPREAD, min_dist);
    optimise(&mut y, &graph, a, b, n_epochs, &mut rng);
    if y.iter().flatten().any(|v| !v.is_finite()) {
        bail!("UMAP diverged (non-finite coordinates)");
    }
    Ok(Array2::from_shape_fn((n, DIM), |(i, d)| y[i][d]))
}

/// A symmetric weighted graph in compressed sparse rows, columns sorted.
pub struct Graph {
    pub offsets: Vec<usize>,
    pub cols: Vec<usize>,
    pub weights: Vec<f64>,
}

impl Graph {
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.cols[r.clone()], &self.weights[r])
    }

    fn max_weight(&self) -> f64 {
        self.weights.iter().copied().fold(0.0, f64::max)
    }

    /// Drops edges with weight below `threshold` (and zero-weight ones).
    fn prune(&mut self, threshold: f64) {
        let n = self.n();
        let mut offsets = vec![0usize; n + 1];
        let (mut cols, mut weights) = (Vec::new(), Vec::new());
        for i in 0..n {
            let (c, w) = self.row(i);
            for (&j, &v) in c.iter().zip(w) {
                if v >= threshold && v > 0.0 {
                    cols.push(j);
                    weights.push(v);
                }
            }
            offsets[i + 1] = cols.len();
        }
        *self = Graph {
            offsets,
            cols,
            weights,
        };
    }

    /// The subgraph on `members` (sorted), renumbered 0..members.len().
    fn subgraph(&self, members: &[usize]) -> Graph {
        let mut index = vec![usize::MAX; self.n()];
        for (new, &old) in members.iter().enumerate() {
            index[old] = new;
        }
        let mut offsets = vec![0usize];
        let (mut cols, mut weights) = (Vec::new(), Vec::new());
        for &i in members {
            let (c, w) = self.row(i);
            for (&j, &v) in c.iter().zip(w) {
                if index[j] != usize::MAX {
                    cols.push(index[j]);
                    weights.push(v);
                }
            }
            offsets.push(cols.len());
        }
        Graph {
            offsets,
            cols,
            weights,
        }
    }

    /// Connected components, numbered in order of their smallest vertex
    /// (scipy's `connected_components` numbering).
    fn components(&self) -> (usize, Vec<usize>) {
        let n = self.n();
        let mut label = vec![usize::MAX; n];
        let mut count = 0;
        let mut stack = Vec::new();
        for s in 0..n {
            if label[s] != usize::MAX {
                continue;
            }
            label[s] = count;
            stack.push(s);
            while let Some(i) = stack.pop() {
                for &j in self.row(i).0 {
                    if label[j] == usize::MAX {
                        label[j] = count;
                        stack.push(j);
                    }
                }
            }
            count += 1;
        }
        (count, label)
    }
}

/// σ and ρ of every point (umap-learn's `smooth_knn_dist`, local
/// connectivity 1, bandwidth 1): ρ is the distance to the nearest point at
/// a non-zero distance, σ the bisection solution of
/// Σ_{j≥1} exp(−max(0, dⱼ − ρ)/σ) = log₂ k over the neighbours after the first.
pub fn smooth_knn_dist(knn: &super::knn::Knn) -> (Vec<f64>, Vec<f64>) {
    let k = knn.k;
    let n = knn.indices.len() / k;
    let target = (k as f64).log2();
    let mean_all = knn.distances.iter().sum::<f64>() / knn.distances.len() as f64;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let d = knn.row(i).1;
            let rho = d.iter().copied().find(|&v| v > 0.0).unwrap_or(0.0);
            let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
            for _ in 0..64 {
                let psum: f64 = d[1..]
                    .iter()
                    .map(|&dj| {
                        let t = dj - rho;
                        if t > 0.0 {
                            (-(t / mid)).exp()
                        } else {
                            1.0
                        }
                    })
                    .sum();
                if (psum - target).abs() < SMOOTH_K_TOLERANCE {
                    break;
                }
                if psum > target {
                    hi = mid;
                    mid = (lo + hi) / 2.0;
                } else {
                    lo = mid;
                    mid = if hi.is_finite() {
                        (lo + hi) / 2.0
                    } else {
                        mid * 2.0
                    };
                }
            }
            // σ is kept away from zero relative to the distances' scale.
            let floor = if rho > 0.0 {
                MIN_K_DIST_SCALE * d.iter().sum::<f64>() / k as f64
            } else {
                MIN_K_DIST_SCALE * mean_all
            };
            (mid.max(floor), rho)
        })
        .unzip()
}

/// The fuzzy union of the points' local fuzzy sets, as a symmetric graph.
pub fn fuzzy_simplicial_set(knn: &super::knn::Knn, n: usize) -> Graph {
    let (sigma, rho) = smooth_knn_dist(knn);
    // (row, col, weight) of A and of Aᵀ; the point itself has weight 0.
    let mut entries: Vec<(usize, usize, f64, bool)> = Vec::with_capacity(2 * n * knn.k);
    for i in 0..n {
        let (idx, dist) = knn.row(i);
        for (&j, &d) in idx.iter().zip(dist) {
            if j == i {
                continue;
            }
            let t = d - rho[i];
            let w = if t <= 0.0 || sigma[i] == 0.0 {
                1.0
            } else {
                (-(t / sigma[i])).exp()
            };
            if w > 0.0 {
                entries.push((i, j, w, false));
                entries.push((j, i, w, true));
            }
        }
    }
    entries.par_sort_unstable_by(|a, b| (a.0, a.1, a.3).cmp(&(b.0, b.1, b.3)));
    let mut offsets = vec![0usize; n + 1];
    let (mut cols, mut weights) = (Vec::new(), Vec::new());
    let mut e = 0;
    while e < entries.len() {
        let (i, j) = (entries[e].0, entries[e].1);
        let (mut a, mut at) = (0.0, 0.0);
        while e < entries.len() && entries[e].0 == i && entries[e].1 == j {
            if entries[e].3 {
                at = entries[e].2;
            } else {
                a = entries[e].2;
            }
            e += 1;
        }
        let w = a + at - a * at;
        if w > 0.0 {
            cols.push(j);
            weights.push(w);
            offsets[i + 1] = cols.len();
        }
    }
    for i in 0..n {
        offsets[i + 1] = offsets[i + 1].max(offsets[i]);
    }
    Graph {
        offsets,
        cols,
        weights,
    }
}

/// a, b of 1 / (1 + a x^{2b}) fitted by least squares (Levenberg–Marquardt
/// from a = b = 1, as scipy's `curve_fit`) to 1 below `min_dist` and
/// exp(−(x − min_dist)/spread) above, on 300 points of [0, 3·spread].
pub fn find_ab_params(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let sse = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (1.0 / (1.0 + a * x.powf(2.0 * b)) - y).powi(2))
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let mut lambda = 1e-3;
    let mut cost = sse(a, b);
    for _ in 0..500 {
        // Normal equations JᵀJ δ = −Jᵀr of the 2-parameter problem.
        let (mut jj, mut jr) = ([[0.0f64; 2]; 2], [0.0f64; 2]);
        for (&x, &y) in xs.iter().zip(&ys) {
            let p = if x > 0.0 { x.powf(2.0 * b) } else { 0.0 };
            let f = 1.0 / (1.0 + a * p);
            let r = f - y;
            let da = -p * f * f;
            let db = if x > 0.0 {
                -a * p * 2.0 * x.ln() * f * f
            } else {
                0.0
            };
            let g = [da, db];
            for u in 0..2 {
                jr[u] += g[u] * r;
                for v in 0..2 {
                    jj[u][v] += g[u] * g[v];
                }
            }
        }
        let mut improved = false;
        for _ in 0..50 {
            let m = [
                [jj[0][0] * (1.0 + lambda), jj[0][1]],
                [jj[1][0], jj[1][1] * (1.0 + lambda)],
            ];
            let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
            if det == 0.0 || !det.is_finite() {
                lambda *= 10.0;
                continue;
            }
            let da = -(m[1][1] * jr[0] - m[0][1] * jr[1]) / det;
            let db = -(m[0][0] * jr[1] - m[1][0] * jr[0]) / det;
            let c = sse(a + da, b + db);
            if c.is_finite() && c < cost {
                let rel = (cost - c) / cost.max(1e-300);
                a += da;
                b += db;
                cost = c;
                lambda = (lambda / 10.0).max(1e-12);
                improved = rel > 1e-15;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    (a, b)
}

/// Sum of products in fixed-size chunks (see [`CHUNK`]).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let parts: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// w −= c·q, in parallel (element-wise, so deterministic).
fn axpy(w: &mut [f64], c: f64, q: &[f64]) {
    w.par_chunks_mut(CHUNK)
        .zip(q.par_chunks(CHUNK))
        .for_each(|(w, q)| w.iter_mut().zip(q).for_each(|(a, b)| *a -= c * b));
}

/// The `want` leading eigenvectors of the symmetric operator `op` on the
/// orthogonal complement of the unit vector `deflate`: Lanczos with full
/// reorthogonalisation, restarted from the sum of the wanted Ritz vectors
/// until their residuals fall below 1e-4 (umap-learn's eigsh tolerance) or
/// the restart budget ends. None when the space is too small.
fn leading_eigenvectors(
    n: usize,
    op: &(dyn Fn(&[f64], &mut [f64]) + Sync),
    deflate: &[f64],
    want: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Option<Vec<Vec<f64>>> {
    const TOL: f64 = 1e-4;
    const RESTARTS: usize = 20;
    let m = (((n as f64).sqrt() * 1.5) as usize)
        .clamp(4 * want + 10, 150)
        .min(n - 1);
    if m <= want {
        return None;
    }
    let orthonormalise = |w: &mut Vec<f64>, basis: &[Vec<f64>]| -> f64 {
        // Classical Gram–Schmidt twice is as stable as modified G–S.
        for _ in 0..2 {
            let c = dot(w, deflate);
            axpy(w, c, deflate);
            for q in basis {
                let c = dot(w, q);
                axpy(w, c, q);
            }
        }
        dot(w, w).sqrt()
    };
    // umap-learn starts ARPACK from the all-ones vector.
    let mut v = vec![1.0f64; n];
    let mut norm = orthonormalise(&mut v, &[]);
    if norm < 1e-8 {
        let nrm = Normal::new(0.0, 1.0).unwrap();
        v = (0..n).map(|_| nrm.sample(rng)).collect();
        norm = orthonormalise(&mut v, &[]);
    }
    v.iter_mut().for_each(|x| *x /= norm);
    let mut best = None;
    for _ in 0..RESTARTS {
        let mut basis: Vec<Vec<f64>> = vec![v.clone()];
        let (mut alpha, mut beta) = (Vec::new(), Vec::new());
        let mut w = vec![0.0; n];
        let mut invariant = false;
        for j in 0..m {
            op(&basis[j], &mut w);
            alpha.push(dot(&w, &basis[j]));
            let mut next = w.clone();
            let b = orthonormalise(&mut next, &basis);
            if b < 1e-10 {
                invariant = true;
                break;
            }
            beta.push(b);
            if j + 1 < m {
                next.iter_mut().for_each(|x| *x /= b);
                basis.push(next);
            }
        }
        let steps = alpha.len();
        if steps <= want {
            return None;
        }
        let t = Array2::from_shape_fn((steps, steps), |(r, c)| {
            if r == c {
                alpha[r]
            } else if r + 1 == c || c + 1 == r {
                beta[r.min(c)]
            } else {
                0.0
            }
        });
        let (_, s) = t.eigh().ok()?.sort_eig_desc();
        let last_beta = if invariant { 0.0 } else { beta[steps - 1] };
        let mut converged = true;
        let mut vecs = Vec::with_capacity(want);
        for i in 0..want {
            converged &= (last_beta * s[[steps - 1, i]]).abs() < TOL;
            let mut y = vec![0.0; n];
            for (j, q) in basis.iter().enumerate().take(steps) {
                let c = s[[j, i]];
                y.par_chunks_mut(CHUNK)
                    .zip(q.par_chunks(CHUNK))
                    .for_each(|(y, q)| y.iter_mut().zip(q).for_each(|(a, b)| *a += c * b));
            }
            vecs.push(y);
        }
        if vecs.iter().flatten().any(|x| !x.is_finite()) {
            return None;
        }
        let done = converged || invariant;
        v = (0..n).map(|r| vecs.iter().map(|y| y[r]).sum()).collect();
        best = Some(vecs);
        if done {
            break;
        }
        let norm = orthonormalise(&mut v, &[]);
        if norm < 1e-12 {
            break;
        }
        v.iter_mut().for_each(|x| *x /= norm);
    }
    best
}

/// The spectral layout of a connected graph: eigenvectors of
/// L = I − D^{-1/2} A D^{-1/2} for its 2nd and 3rd smallest eigenvalues,
/// found as the leading ones of (I + D^{-1/2} A D^{-1/2}) / 2 beside the
/// known first, √degree.
fn spectral_layout(g: &Graph, rng: &mut Xoshiro256PlusPlus) -> Option<Vec<[f64; DIM]>> {
    let n = g.n();
    let inv_sqrt: Vec<f64> = (0..n)
        .map(|i| 1.0 / g.row(i).1.iter().sum::<f64>().sqrt())
        .collect();
    let sqrt_deg: Vec<f64> = inv_sqrt.iter().map(|v| 1.0 / v).collect();
    let norm = sqrt_deg.iter().map(|v| v * v).sum::<f64>().sqrt();
    let first: Vec<f64> = sqrt_deg.iter().map(|v| v / norm).collect();
    let op = |x: &[f64], out: &mut [f64]| {
        out.par_iter_mut().enumerate().for_each(|(i, o)| {
            let (c, w) = g.row(i);
            let s: f64 = c.iter().zip(w).map(|(&j, &v)| v * inv_sqrt[j] * x[j]).sum();
            *o = 0.5 * x[i] + 0.5 * inv_sqrt[i] * s;
        })
    };
    let vecs = leading_eigenvectors(n, &op, &first, DIM, rng)?;
    Some((0..n).map(|i| [vecs[0][i], vecs[1][i]]).collect())
}

fn uniform_layout(n: usize, half: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<[f64; DIM]> {
    (0..n)
        .map(|_| [rng.gen_range(-half..half), rng.gen_range(-half..half)])
        .collect()
}

/// umap-learn's `multi_component_layout`: each component's own spectral
/// layout, scaled to half the distance to the nearest other anchor and
/// placed at its anchor.
fn multi_component_layout(
    g: &Graph,
    x: &Points,
    count: usize,
    label: &[usize],
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Vec<[f64; DIM]>> {
    let anchors: Vec<[f64; DIM]> = if count <= 2 * DIM {
        // ±unit vectors: e₀, e₁, −e₀, −e₁ (first `count` of them).
        let k = count.div_ceil(2);
        (0..count)
            .map(|c| {
                let (axis, sign) = if c < k { (c, 1.0) } else { (c - k, -1.0) };
                let mut p = [0.0; DIM];
                if axis < DIM {
                    p[axis] = sign;
                }
                p
            })
            .collect()
    } else {
        let mut centroids = Array2::<f32>::zeros((count, x.d));
        let mut sizes = vec![0usize; count];
        for (i, &c) in label.iter().enumerate() {
            sizes[c] += 1;
            for (t, v) in centroids.row_mut(c).iter_mut().zip(x.row(i)) {
                *t += *v as f32;
            }
        }
        for (mut row, &s) in centroids.rows_mut().into_iter().zip(&sizes) {
            row /= s as f32;
        }
        let p = super::project::pca2(&centroids)?;
        let scale = p.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        p.rows()
            .into_iter()
            .map(|r| [(r[0] / scale) as f64, (r[1] / scale) as f64])
            .collect()
    };
    let mut out = vec![[0.0; DIM]; g.n()];
    for c in 0..count {
        let members: Vec<usize> = (0..g.n()).filter(|&i| label[i] == c).collect();
        let half = anchors
            .iter()
            .map(|a| ((a[0] - anchors[c][0]).powi(2) + (a[1] - anchors[c][1]).powi(2)).sqrt())
            .filter(|&d| d > 0.0)
            .fold(f64::INFINITY, f64::min)
            / 2.0;
        let half = if half.is_finite() { half } else { 1.0 };
        let layout = if members.len() < 2 * DIM || members.len() <= DIM + 1 {
            None
        } else {
            spectral_layout(&g.subgraph(&members), rng).map(|mut l| {
                let m = l.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
                let s = if m > 0.0 { half / m } else { 1.0 };
                l.iter_mut().flatten().for_each(|v| *v *= s);
                l
            })
        };
        let layout = layout.unwrap_or_else(|| uniform_layout(members.len(), half, rng));
        for (&i, p) in members.iter().zip(layout) {
            out[i] = [p[0] + anchors[c][0], p[1] + anchors[c][1]];
        }
    }
    Ok(out)
}

/// The starting layout, as umap-learn's `init="spectral"`: a spectral (or
/// multi-component) layout, scaled to max |coordinate| 10 plus N(0, 1e-4)
/// noise, then min–max scaled to [0, 10] per axis. Row-major n × DIM.
fn initialise(g: &Graph, x: &Points, rng: &mut Xoshiro256PlusPlus) -> Result<Vec<f64>> {
    let (count, label) = g.components();
    let layout = if count > 1 {
        multi_component_layout(g, x, count, &label, rng)?
    } else {
        match spectral_layout(g, rng) {
            Some(l) => l,
            // umap-learn's fallback when the eigensolver fails.
            None => uniform_layout(g.n(), 10.0, rng),
        }
    };
    let m = layout.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let expansion = if m > 0.0 { 10.0 / m } else { 1.0 };
    let noise = Normal::new(0.0, 1e-4).unwrap();
    let mut y: Vec<f64> = layout
        .iter()
        .flatten()
        .map(|v| v * expansion + noise.sample(rng))
        .collect();
    for d in 0..DIM {
        let col = y.iter().skip(d).step_by(DIM);
        let (lo, hi) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        let range = if hi > lo { hi - lo } else { 1.0 };
        for v in y.iter_mut().skip(d).step_by(DIM) {
            *v = 10.0 * (*v - lo) / range;
        }
    }
    Ok(y)
}

/// Gradient coordinates are clipped to ±4 (umap-learn's `clip`).
#[inline]
fn clip(v: f32) -> f32 {
    v.clamp(-4.0, 4.0)
}

/// umap-learn's `optimize_layout_euclidean` with move_other: sequential SGD
/// over the directed edges in row order. Coordinates and kernel arithmetic
/// are f32, as umap-learn's (its embedding is float32): half the cost of
/// f64 `powf`, and far below the layout's own noise.
fn optimise(
    y: &mut [[f32; DIM]],
    g: &Graph,
    a: f64,
    b: f64,
    n_epochs: usize,
    rng: &mut Xoshiro256PlusPlus,
) {
    let n = g.n();
    let (a, b) = (a as f32, b as f32);
    let heads: Vec<usize> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i, g.offsets[i + 1] - g.offsets[i]))
        .collect();
    let tails = &g.cols;
    let wmax = g.max_weight();
    // An edge is sampled every wmax / w epochs.
    let epochs_per_sample: Vec<f64> = g.weights.iter().map(|&w| wmax / w).collect();
    let epochs_per_negative: Vec<f64> = epochs_per_sample
        .iter()
        .map(|e| e / NEGATIVE_SAMPLE_RATE)
        .collect();
    let mut next_sample = epochs_per_sample.clone();
    let mut next_negative = epochs_per_negative.clone();
    let mut alpha = INITIAL_ALPHA as f32;
    let repulsion = 2.0 * REPULSION as f32 * b;
    for epoch in 0..n_epochs {
        let e = epoch as f64;
        for i in 0..heads.len() {
            if next_sample[i] > e {
                continue;
            }
            let (j, k) = (heads[i], tails[i]);
            let (mut cur, other) = (y[j], y[k]);
            let diff = [cur[0] - other[0], cur[1] - other[1]];
            let d2 = diff[0] * diff[0] + diff[1] * diff[1];
            let coeff = if d2 > 0.0 {
                // d^(b−1) = d^b / d: one power instead of two.
                let pb = d2.powf(b);
                -2.0 * a * b * (pb / d2) / (a * pb + 1.0)
            } else {
                0.0
            };
            for d in 0..DIM {
                let g = clip(coeff * diff[d]) * alpha;
                cur[d] += g;
                y[k][d] -= g;
            }
            next_sample[i] += epochs_per_sample[i];
            let n_neg = ((e - next_negative[i]) / epochs_per_negative[i]).max(0.0) as usize;
            for _ in 0..n_neg {
                let k = rng.gen_range(0..n);
                // y[j] itself is `cur` until written back below.
                let other = if k == j { cur } else { y[k] };
                let diff = [cur[0] - other[0], cur[1] - other[1]];
                let d2 = diff[0] * diff[0] + diff[1] * diff[1];
                if d2 > 0.0 {
                    let coeff = repulsion / ((0.001 + d2) * (a * d2.powf(b) + 1.0));
                    for d in 0..DIM {
                        cur[d] += clip(coeff * diff[d]) * alpha;
                    }
                }
            }
            y[j] = cur;
            next_negative[i] += n_neg as f64 * epochs_per_negative[i];
        }
        // As umap-learn: after epoch e the rate is 1 − e/n_epochs, so the
        // first two epochs both run at the initial rate.
        alpha = (INITIAL_ALPHA * (1.0 - e / n_epochs as f64)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// umap-learn 0.5.12's `find_ab_params(1.0, min_dist)` (scipy's
    /// curve_fit). Both are local least-squares optima of the same smooth
    /// problem; 1e-6 allows for the two optimisers' stopping rules.
    #[test]
    fn ab_params_match_umap_learn() {
        for (min_dist, a0, b0) in [
            (0.1, 1.5769434602697652, 0.8950608778515733),
            (0.5, 0.5830300203414425, 1.3341669924314914),
            (0.0, 1.93280839734315, 0.7904949732233831),
        ] {
            let (a, b) = find_ab_params(1.0, min_dist);
            assert!((a - a0).abs() < 1e-6, "min_dist {min_dist}: a {a} vs {a0}");
            assert!((b - b0).abs() < 1e-6, "min_dist {min_dist}: b {b} vs {b0}");
        }
    }

    fn random_graph(n: usize, seed: u64) -> Graph {
        // A connected random graph: a path plus random chords, symmetric weights.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut w = vec![vec![0.0f64; n]; n];
        for i in 0..n - 1 {
            let v = rng.gen_range(0.2..1.0);
            w[i][i + 1] = v;
            w[i + 1][i] = v;
        }
        for _ in 0..3 * n {
            let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..n));
            if i != j {
                let v = rng.gen_range(0.1..1.0);
                w[i][j] = v;
                w[j][i] = v;
            }
        }
        let mut offsets = vec![0];
        let (mut cols, mut weights) = (Vec::new(), Vec::new());
        for row in &w {
            for (j, &v) in row.iter().enumerate() {
                if v > 0.0 {
                    cols.push(j);
                    weights.push(v);
                }
            }
            offsets.push(cols.len());
        }
        Graph {
            offsets,
            cols,
            weights,
        }
    }

    /// The Lanczos layout equals a dense eigendecomposition of the
    /// normalised Laplacian (up to each eigenvector's sign).
    #[test]
    fn spectral_layout_matches_dense_eigenvectors() {
        let n = 80;
        let g = random_graph(n, 4);
        let deg: Vec<f64> = (0..n).map(|i| g.row(i).1.iter().sum()).collect();
        let mut l = Array2::<f64>::eye(n);
        for i in 0..n {
            let (c, w) = g.row(i);
            for (&j, &v) in c.iter().zip(w) {
                l[[i, j]] -= v / (deg[i] * deg[j]).sqrt();
            }
        }
        let (vals, vecs) = l.eigh().unwrap().sort_eig_asc();
        assert!(
            vals[2] - vals[1] > 1e-3 && vals[3] - vals[2] > 1e-3,
            "distinct eigenvalues: {vals}"
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let layout = spectral_layout(&g, &mut rng).unwrap();
        for d in 0..DIM {
            let ours: Vec<f64> = layout.iter().map(|p| p[d]).collect();
            let norm = ours.iter().map(|v| v * v).sum::<f64>().sqrt();
            let cos: f64 = ours
                .iter()
                .zip(vecs.column(d + 1))
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / norm;
            // Converged to 1e-4 in residual: the angle to the true
            // eigenvector is of that order over the eigenvalue gap.
            assert!(
                cos.abs() > 0.999,
                "eigenvector {}: |cos| = {}",
                d + 1,
                cos.abs()
            );
        }
    }

    #[test]
    fn smooth_knn_dist_hits_log2_k() {
        let x = Array2::from_shape_fn((50, 3), |(i, d)| {
            ((i * (d + 3)) % 17) as f32 * 0.3 + i as f32 * 0.01
        });
        let knn = super::super::knn::exact(&Points::new(&x), 10, true);
        let (sigma, rho) = smooth_knn_dist(&knn);
        for i in 0..50 {
            let d = knn.row(i).1;
            let psum: f64 = d[1..]
                .iter()
                .map(|&v| {
                    if v > rho[i] {
                        (-(v - rho[i]) / sigma[i]).exp()
                    } else {
                        1.0
                    }
                })
                .sum();
            assert!((psum - 10f64.log2()).abs() < 1e-4, "row {i}: {psum}");
            assert_eq!(rho[i], d[1], "rho is the nearest other point's distance");
        }
    }

    #[test]
    fn fuzzy_union_is_symmetric_and_bounded() {
        let x = Array2::from_shape_fn((60, 4), |(i, d)| {
            ((i * 7 + d * 13) % 23) as f32 + (i / 20) as f32 * 30.0
        });
        let knn = super::super::knn::exact(&Points::new(&x), 8, true);
        let g = fuzzy_simplicial_set(&knn, 60);
        let weight = |i: usize, j: usize| {
            let (c, w) = g.row(i);
            c.iter().position(|&c| c == j).map_or(0.0, |p| w[p])
        };
        for i in 0..60 {
            let (c, w) = g.row(i);
            assert!(c.windows(2).all(|p| p[0] < p[1]), "sorted columns");
            for (&j, &v) in c.iter().zip(w) {
                assert!(j != i && v > 0.0 && v <= 1.0);
                assert_eq!(v, weight(j, i), "symmetric at ({i}, {j})");
            }
        }
        // Three far-apart groups of 20: three components.
        assert_eq!(g.components().0, 3);
    }

    fn three_blobs() -> Array2<f32> {
        use rand_distr::{Distribution, Normal};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let nrm = Normal::new(0.0, 1.0).unwrap();
        Array2::from_shape_fn((150, 6), |(i, d)| {
            ((if d == i / 50 { 10.0 } else { 0.0 }) + nrm.sample(&mut rng)) as f32
        })
    }

    #[test]
    fn separates_blobs_and_is_reproducible_for_any_thread_count() {
        let x = three_blobs();
        let a = umap(&x, 15, 0.1, Some(200), 7).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(a, one.install(|| umap(&x, 15, 0.1, Some(200), 7).unwrap()));
        assert_eq!(
            a,
            three.install(|| umap(&x, 15, 0.1, Some(200), 7).unwrap())
        );
        assert_ne!(
            a,
            umap(&x, 15, 0.1, Some(200), 8).unwrap(),
            "the seed matters"
        );
        let labels: Vec<usize> = (0..150).map(|i| i / 50).collect();
        let sil = super::super::metrics::silhouette(a.mapv(|v| v as f64).view(), &labels, 3);
        assert!(sil > 0.7, "silhouette of the embedding by true blob: {sil}");
    }

    #[test]
    fn small_data_and_bad_parameters() {
        let x = three_blobs().slice(ndarray::s![..8, ..]).to_owned();
        // n_neighbors is clamped to n - 1.
        assert_eq!(umap(&x, 15, 0.1, None, 0).unwrap().dim(), (8, 2));
        assert!(umap(&x.slice(ndarray::s![..3, ..]).to_owned(), 15, 0.1, None, 0).is_err());
        assert!(umap(&x, 1, 0.1, None, 0).is_err());
        assert!(umap(&x, 5, 1.5, None, 0).is_err());
        assert!(umap(&x, 5, 0.1, Some(0), 0).is_err());
    }
}
