//! `gmm`: Gaussian mixture fitted by EM, with full or diagonal covariances,
//! following scikit-learn's `GaussianMixture`: k-means initialisation of the
//! responsibilities, `reg_covar` added to the diagonal, convergence when the
//! mean log-likelihood changes by less than `tol`, best of `n_init` runs.
//! Written here because linfa's GMM offers full covariances only.

use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{Clusterer, Fit, NClusters};
use crate::spec::KeyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Covariance {
    Full,
    Diag,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GmmParams {
    pub kind: String,
    /// Number of components: an integer of at least 2, "labels" for the number of
    /// true classes, or { auto = [lo, hi], by = "silhouette" } to choose it.
    #[serde(default = "d_k")]
    pub k: NClusters,
    /// Covariance type: full or diag.
    #[serde(default = "d_cov")]
    pub covariance: Covariance,
    /// EM restarts; the best by likelihood is kept.
    #[serde(default = "d_n_init")]
    pub n_init: usize,
    /// EM iterations per restart.
    #[serde(default = "d_max_iter")]
    pub max_iter: usize,
    /// Convergence threshold on the mean log-likelihood gain.
    #[serde(default = "d_tol")]
    pub tol: f64,
    /// Added to the covariance diagonal.
    #[serde(default = "d_reg")]
    pub reg_covar: f64,
}

fn d_k() -> NClusters {
    NClusters::Labels
}
fn d_cov() -> Covariance {
    Covariance::Full
}
fn d_n_init() -> usize {
    1
}
fn d_max_iter() -> usize {
    100
}
fn d_tol() -> f64 {
    1e-3
}
fn d_reg() -> f64 {
    1e-6
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Clusterer>, KeyError> {
    let p: GmmParams = crate::spec::typed_table(table, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    if p.n_init == 0 || p.max_iter == 0 {
        return Err(KeyError::new(
            &at(if p.n_init == 0 { "n_init" } else { "max_iter" }),
            "must be at least 1",
        ));
    }
    if p.reg_covar < 0.0 {
        return Err(KeyError::new(&at("reg_covar"), "must be zero or positive"));
    }
    if p.tol <= 0.0 {
        return Err(KeyError::new(&at("tol"), "must be positive"));
    }
    Ok(Box::new(Gmm { p }))
}

pub struct Gmm {
    p: GmmParams,
}

/// One component's covariance in the form the E-step needs.
enum Precision {
    /// Lower Cholesky factor L of Σ (Σ = L Lᵀ).
    Full(Array2<f64>),
    /// Per-dimension variances.
    Diag(Array1<f64>),
}

struct Model {
    weights: Array1<f64>,
    means: Array2<f64>,
    covs: Vec<Precision>,
}

fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            if i == j {
                let d = a[[i, i]] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[[i, j]] = d.sqrt();
            } else {
                l[[i, j]] = (a[[i, j]] - s) / l[[j, j]];
            }
        }
    }
    Some(l)
}

impl Model {
    /// log N(x | μ_c, Σ_c) for every point and component.
    fn log_gauss(&self, x: &Array2<f64>) -> Array2<f64> {
        let (n, d) = x.dim();
        let k = self.weights.len();
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let mut out = Array2::<f64>::zeros((n, k));
        let mut y = vec![0f64; d];
        for c in 0..k {
            let mu = self.means.row(c);
            match &self.covs[c] {
                Precision::Full(l) => {
                    let logdet: f64 = 2.0 * (0..d).map(|i| l[[i, i]].ln()).sum::<f64>();
                    for (i, row) in x.rows().into_iter().enumerate() {
                        // Solve L y = x − μ by forward substitution.
                        for r in 0..d {
                            let s: f64 = (0..r).map(|j| l[[r, j]] * y[j]).sum();
                            y[r] = (row[r] - mu[r] - s) / l[[r, r]];
                        }
                        let quad: f64 = y.iter().map(|v| v * v).sum();
                        out[[i, c]] = -0.5 * (d as f64 * ln2pi + logdet + quad);
                    }
                }
                Precision::Diag(var) => {
                    let logdet: f64 = var.iter().map(|v| v.ln()).sum();
                    for (i, row) in x.rows().into_iter().enumerate() {
                        let quad: f64 = row
                            .iter()
                            .zip(mu)
                            .zip(var)
                            .map(|((a, m), v)| (a - m).powi(2) / v)
                            .sum();
                        out[[i, c]] = -0.5 * (d as f64 * ln2pi + logdet + quad);
                    }
                }
            }
        }
        out
    }

    /// E-step: responsibilities and the mean log-likelihood.
    fn e_step(&self, x: &Array2<f64>) -> (Array2<f64>, f64) {
        let mut lp = self.log_gauss(x);
        for (c, w) in self.weights.iter().enumerate() {
            lp.column_mut(c).mapv_inplace(|v| v + w.ln());
        }
        let mut total = 0.0;
        for mut row in lp.rows_mut() {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            total += lse;
            row.mapv_inplace(|v| (v - lse).exp());
        }
        (lp, total / x.nrows() as f64)
    }
}

fn m_step(x: &Array2<f64>, resp: &Array2<f64>, cov: Covariance, reg: f64) -> Result<Model> {
    let (n, d) = x.dim();
    let nk = resp.sum_axis(Axis(0)).mapv(|v| v + 10.0 * f64::EPSILON);
    let means = resp.t().dot(x) / nk.view().insert_axis(Axis(1));
    let mut covs = Vec::with_capacity(nk.len());
    for c in 0..nk.len() {
        let mu: ArrayView1<f64> = means.row(c);
        let diff = x - &mu;
        let r = resp.column(c);
        match cov {
            Covariance::Full => {
                let weighted = &diff * &r.insert_axis(Axis(1));
                let mut s = weighted.t().dot(&diff) / nk[c];
                for i in 0..d {
                    s[[i, i]] += reg;
                }
                let Some(l) = cholesky(&s) else {
                    bail!("component {c} has an ill-defined covariance (collapsed onto too few points); increase reg_covar or use covariance = \"diag\"");
                };
                covs.push(Precision::Full(l));
            }
            Covariance::Diag => {
                let var = (&diff * &diff * r.insert_axis(Axis(1))).sum_axis(Axis(0)) / nk[c] + reg;
                if var.iter().any(|v| *v <= 0.0) {
                    bail!("component {c} has a zero variance; increase reg_covar");
                }
                covs.push(Precision::Diag(var));
            }
        }
    }
    Ok(Model {
        weights: nk / n as f64,
        means,
        covs,
    })
}

impl Clusterer for Gmm {
    fn kind(&self) -> &'static str {
        "gmm"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn n_clusters(&self) -> Option<NClusters> {
        Some(self.p.k)
    }
    fn has_bic(&self) -> bool {
        true
    }
    fn fit(&self, x: &Array2<f32>, k: Option<usize>, seed: u64) -> Result<Fit> {
        let (n, d) = x.dim();
        let k = super::given_k(k)?;
        let points = super::kmeans::Points::new(x);
        let x = x.mapv(|v| v as f64);
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let mut best: Option<(f64, Array2<f64>)> = None;
        for _ in 0..self.p.n_init {
            // k-means initialisation of the responsibilities (one run per init).
            let labels = super::kmeans::kmeans(&points, k, 1, 300, 1e-4, rng.gen()).labels;
            let mut resp = Array2::<f64>::zeros((n, k));
            for (i, &l) in labels.iter().enumerate() {
                resp[[i, l]] = 1.0;
            }
            let mut model = m_step(&x, &resp, self.p.covariance, self.p.reg_covar)?;
            let mut lower = f64::NEG_INFINITY;
            for _ in 0..self.p.max_iter {
                let (r, ll) = model.e_step(&x);
                resp = r;
                let change = ll - lower;
                lower = ll;
                model = m_step(&x, &resp, self.p.covariance, self.p.reg_covar)?;
                if change.abs() < self.p.tol {
                    break;
                }
            }
            let (resp, ll) = model.e_step(&x);
            if !ll.is_finite() {
                bail!("the log-likelihood became {ll}; increase reg_covar");
            }
            if best.as_ref().is_none_or(|(b, _)| ll > *b) {
                best = Some((ll, resp));
            }
        }
        let (ll, resp) = best.unwrap();
        // scikit-learn's `bic`: −2 · n · mean log-likelihood + p · ln n, with
        // p = means + covariances + (k − 1) free weights.
        let cov_params = match self.p.covariance {
            Covariance::Full => k * d * (d + 1) / 2,
            Covariance::Diag => k * d,
        };
        let n_params = (k * d + cov_params + k - 1) as f64;
        let bic = -2.0 * ll * n as f64 + n_params * (n as f64).ln();
        let labels = resp
            .rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    )
                    .0 as i64
            })
            .collect();
        Ok(Fit {
            labels,
            bic: Some(bic),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs() {
        let a = ndarray::arr2(&[[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]]);
        let l = cholesky(&a).unwrap();
        let back = l.dot(&l.t());
        assert!(back
            .iter()
            .zip(a.iter())
            .all(|(x, y)| (x - y).abs() < 1e-12));
        assert!(cholesky(&ndarray::arr2(&[[1.0, 2.0], [2.0, 1.0]])).is_none());
    }

    #[test]
    fn recovers_two_gaussians_with_both_covariances() {
        use rand_distr::{Distribution, Normal};
        let mut rng = Xoshiro256Plus::seed_from_u64(1);
        let nrm = Normal::new(0.0, 1.0).unwrap();
        let mut data = Vec::new();
        for i in 0..200 {
            let c = if i < 100 { 0.0 } else { 8.0 };
            data.push((c + nrm.sample(&mut rng)) as f32);
            data.push((c + 0.5 * nrm.sample(&mut rng)) as f32);
        }
        let x = Array2::from_shape_vec((200, 2), data).unwrap();
        for cov in ["full", "diag"] {
            let t: toml::Table = format!("kind = \"gmm\"\nk = 2\ncovariance = \"{cov}\"")
                .parse()
                .unwrap();
            let labels = parse(&t, &[]).unwrap().fit_predict(&x, None, 3).unwrap();
            let first = labels[0];
            assert!(labels[..100].iter().all(|&l| l == first), "{cov}");
            assert!(labels[100..].iter().all(|&l| l != first), "{cov}");
        }
    }
}
