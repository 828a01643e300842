//! Clustering metrics with scikit-learn's definitions and edge cases, in f64.
//!
//! Internal metrics (silhouette, Calinski–Harabasz, Davies–Bouldin) need
//! 2 ≤ clusters ≤ n − 1 (scikit-learn raises otherwise); here an undefined
//! metric is `None` with the reason, never NaN and never a panic. Label −1
//! is an ordinary cluster, as in scikit-learn.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub const ALL_METRICS: &[&str] = &[
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "adjusted_rand",
    "nmi_arithmetic",
    "ami_arithmetic",
    "homogeneity",
    "completeness",
    "v_measure",
    "purity",
    "accuracy",
];

/// Metrics that compare against true labels.
pub const EXTERNAL: &[&str] = &[
    "adjusted_rand",
    "nmi_arithmetic",
    "ami_arithmetic",
    "homogeneity",
    "completeness",
    "v_measure",
    "purity",
];

pub fn default_metric_names() -> Vec<String> {
    ALL_METRICS.iter().map(|s| s.to_string()).collect()
}

/// A metric's value, or why it is undefined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

impl Score {
    fn ok(v: f64) -> Score {
        Score {
            value: Some(v),
            reason: None,
        }
    }
    fn undefined(reason: impl Into<String>) -> Score {
        Score {
            value: None,
            reason: Some(reason.into()),
        }
    }
}

/// Labels renumbered 0..k in sorted order of the original ids (np.unique).
pub fn encode<T: Ord + Clone>(labels: &[T]) -> (Vec<usize>, usize) {
    let mut uniq: Vec<T> = labels.to_vec();
    uniq.sort();
    uniq.dedup();
    let idx = labels
        .iter()
        .map(|l| uniq.binary_search(l).unwrap())
        .collect();
    (idx, uniq.len())
}

/// The true label of a track that has none (a manifest row with an empty
/// `label`): it is clustered and scored by the internal metrics, and left
/// out of the external ones.
pub const UNLABELLED: usize = usize::MAX;

/// Computes the requested metrics; `truth` enables the external ones, which
/// are computed over the rows whose truth is not [`UNLABELLED`].
pub fn score_all(
    x: ArrayView2<f64>,
    pred: &[i64],
    truth: Option<&[usize]>,
    names: &[String],
) -> BTreeMap<String, Score> {
    if pred.is_empty() {
        // scikit-learn returns 1.0 for some metrics of empty labellings;
        // a score of nothing is undefined.
        return undefined_all(names, "there are no points to score");
    }
    if let Some(t) = truth.filter(|t| t.contains(&UNLABELLED)) {
        // Internal metrics over every row, external ones over the labelled rows.
        let labelled: Vec<usize> = (0..t.len()).filter(|&i| t[i] != UNLABELLED).collect();
        let (external, internal): (Vec<String>, Vec<String>) =
            names.iter().cloned().partition(|n| is_external(n));
        let mut out = score_all(x, pred, None, &internal);
        if labelled.is_empty() {
            out.extend(undefined_all(&external, "no scored track has a label"));
        } else {
            let xl = x.select(ndarray::Axis(0), &labelled);
            let pl: Vec<i64> = labelled.iter().map(|&i| pred[i]).collect();
            let tl: Vec<usize> = labelled.iter().map(|&i| t[i]).collect();
            out.extend(score_all(xl.view(), &pl, Some(&tl), &external));
        }
        return out;
    }
    let (p, k) = encode(pred);
    let mut out = BTreeMap::new();
    let internal_check = check_n_labels(k, pred.len());
    for name in names {
        let s = match name.as_str() {
            "silhouette" => internal_check
                .clone()
                .unwrap_or_else(|| Score::ok(silhouette(x, &p, k))),
            "calinski_harabasz" => internal_check
                .clone()
                .unwrap_or_else(|| Score::ok(calinski_harabasz(x, &p, k))),
            "davies_bouldin" => internal_check
                .clone()
                .unwrap_or_else(|| Score::ok(davies_bouldin(x, &p, k))),
            ext => match truth {
                None => Score::undefined("the dataset has no labels"),
                Some(t) => {
                    let (t, _) = encode(t);
                    let c = Contingency::new(&t, &p);
                    Score::ok(match ext {
                        "adjusted_rand" => c.adjusted_rand(),
                        "nmi_arithmetic" => c.nmi(),
                        "ami_arithmetic" => c.ami(),
                        "homogeneity" => c.homogeneity_completeness_v().0,
                        "completeness" => c.homogeneity_completeness_v().1,
                        "v_measure" => c.homogeneity_completeness_v().2,
                        "purity" => c.purity(),
                        "accuracy" => c.accuracy(),
                        other => unreachable!("unknown metric {other} passed validation"),
                    })
                }
            },
        };
        out.insert(name.clone(), s);
    }
    out
}

fn is_external(name: &str) -> bool {
    !matches!(name, "silhouette" | "calinski_harabasz" | "davies_bouldin")
}

fn undefined_all(names: &[String], reason: &str) -> BTreeMap<String, Score> {
    names
        .iter()
        .map(|n| (n.clone(), Score::undefined(reason)))
        .collect()
}

fn check_n_labels(k: usize, n: usize) -> Option<Score> {
    if k < 2 || k > n.saturating_sub(1) {
        Some(Score::undefined(format!(
            "{k} cluster(s) for {n} points: internal metrics need between 2 and n - 1 clusters"
        )))
    } else {
        None
    }
}

fn sq_dist(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Mean silhouette over all samples (euclidean). Computed blockwise: memory
/// is O(block × clusters), never O(n²).
pub fn silhouette(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let s = silhouette_samples(x, labels, k);
    s.iter().sum::<f64>() / s.len() as f64
}

pub fn silhouette_samples(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Vec<f64> {
    use rayon::prelude::*;
    let (n, d) = x.dim();
    // Points sorted by cluster and stored column-major: the distances from one
    // point to all others are then d vectorised passes over contiguous
    // memory, and each cluster's sum is a contiguous segment. Memory is
    // O(n·d + n per thread), never O(n²).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| labels[i]);
    let mut bounds = vec![0usize; k + 1];
    for &l in labels {
        bounds[l + 1] += 1;
    }
    for c in 0..k {
        bounds[c + 1] += bounds[c];
    }
    let cols: Vec<Vec<f64>> = (0..d)
        .map(|j| order.iter().map(|&i| x[[i, j]]).collect())
        .collect();
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(32)
        .map_init(
            || vec![0f64; n],
            |dist, p| {
                dist.iter_mut().for_each(|v| *v = 0.0);
                for col in &cols {
                    let xi = col[p];
                    for (v, &xj) in dist.iter_mut().zip(col) {
                        let t = xj - xi;
                        *v += t * t;
                    }
                }
                dist.iter_mut().for_each(|v| *v = v.sqrt());
                let own = labels[order[p]];
                let size = |c: usize| bounds[c + 1] - bounds[c];
                if size(own) <= 1 {
                    return 0.0; // scikit-learn's convention for singletons
                }
                let mean_to =
                    |c: usize| dist[bounds[c]..bounds[c + 1]].iter().sum::<f64>() / size(c) as f64;
                // The distance to itself is 0, so the own sum needs no correction.
                let a = mean_to(own) * size(own) as f64 / (size(own) - 1) as f64;
                let b = (0..k)
                    .filter(|&c| c != own && size(c) > 0)
                    .map(mean_to)
                    .fold(f64::INFINITY, f64::min);
                let m = a.max(b);
                if m > 0.0 && m.is_finite() {
                    (b - a) / m
                } else {
                    0.0
                }
            },
        )
        .collect();
    // Back to the caller's order.
    let mut out = vec![0f64; n];
    for (p, &i) in order.iter().enumerate() {
        out[i] = scores[p];
    }
    out
}

fn centroids(x: ArrayView2<f64>, labels: &[usize], k: usize) -> (Array2<f64>, Vec<usize>) {
    let mut c = Array2::<f64>::zeros((k, x.ncols()));
    let mut counts = vec![0usize; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let mut cr = c.row_mut(l);
        cr += &row;
        counts[l] += 1;
    }
    for (mut cr, &n) in c.rows_mut().into_iter().zip(&counts) {
        cr /= n as f64;
    }
    (c, counts)
}

pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let n = x.nrows();
    let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let (c, counts) = centroids(x, labels, k);
    let mut extra = 0.0;
    for (cr, &nk) in c.rows().into_iter().zip(&counts) {
        extra += nk as f64 * sq_dist(cr, mean.view());
    }
    let mut intra = 0.0;
    for (row, &l) in x.rows().into_iter().zip(labels) {
        intra += sq_dist(row, c.row(l));
    }
    if intra == 0.0 {
        1.0
    } else {
        extra * (n - k) as f64 / (intra * (k - 1) as f64)
    }
}

/// numpy.allclose(a, 0) with its default tolerances (atol 1e-8).
fn all_close_to_zero(v: impl IntoIterator<Item = f64>) -> bool {
    v.into_iter().all(|x| x.abs() <= 1e-8)
}

pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let (c, counts) = centroids(x, labels, k);
    let mut intra = vec![0f64; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        intra[l] += sq_dist(row, c.row(l)).sqrt();
    }
    for (s, &n) in intra.iter_mut().zip(&counts) {
        *s /= n as f64;
    }
    let mut cd = Array2::<f64>::zeros((k, k));
    for i in 0..k {
        for j in 0..k {
            cd[[i, j]] = sq_dist(c.row(i), c.row(j)).sqrt();
        }
    }
    if all_close_to_zero(intra.iter().copied()) || all_close_to_zero(cd.iter().copied()) {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..k {
        let mut best = f64::NEG_INFINITY;
        for j in 0..k {
            let d = if cd[[i, j]] == 0.0 {
                f64::INFINITY
            } else {
                cd[[i, j]]
            };
            best = best.max((intra[i] + intra[j]) / d);
        }
        total += best;
    }
    total / k as f64
}

/// The contingency table of true classes (rows) × predicted clusters (columns).
pub struct Contingency {
    n: usize,
    table: Array2<u64>,
}

impl Contingency {
    pub fn new(truth: &[usize], pred: &[usize]) -> Self {
        let r = truth.iter().max().map_or(0, |m| m + 1);
        let c = pred.iter().max().map_or(0, |m| m + 1);
        let mut table = Array2::<u64>::zeros((r, c));
        for (&t, &p) in truth.iter().zip(pred) {
            table[[t, p]] += 1;
        }
        Contingency {
            n: truth.len(),
            table,
        }
    }

    fn row_sums(&self) -> Vec<u64> {
        self.table.rows().into_iter().map(|r| r.sum()).collect()
    }
    fn col_sums(&self) -> Vec<u64> {
        self.table.columns().into_iter().map(|c| c.sum()).collect()
    }

    /// ARI from the pair confusion matrix, in exact integer arithmetic.
    pub fn adjusted_rand(&self) -> f64 {
        let n = self.n as i128;
        let nc: Vec<i128> = self.row_sums().iter().map(|&v| v as i128).collect();
        let nk: Vec<i128> = self.col_sums().iter().map(|&v| v as i128).collect();
        let sum_squares: i128 = self.table.iter().map(|&v| (v as i128) * (v as i128)).sum();
        let mut dot_nk = 0i128;
        let mut dot_nc = 0i128;
        for ((i, j), &v) in self.table.indexed_iter() {
            dot_nk += v as i128 * nk[j];
            dot_nc += v as i128 * nc[i];
        }
        let tp = sum_squares - n;
        let fp = dot_nk - sum_squares;
        let fn_ = dot_nc - sum_squares;
        let tn = n * n - fp - fn_ - sum_squares;
        if fn_ == 0 && fp == 0 {
            return 1.0;
        }
        let num = 2 * (tp * tn - fn_ * fp);
        let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
        num as f64 / den as f64
    }

    /// Mutual information in nats, as `mutual_info_score`.
    pub fn mutual_info(&self) -> f64 {
        let pi = self.row_sums();
        let pj = self.col_sums();
        if pi.iter().filter(|&&v| v > 0).count() == 1 || pj.iter().filter(|&&v| v > 0).count() == 1
        {
            return 0.0;
        }
        let total = self.n as f64;
        let (sum_i, sum_j) = (pi.iter().sum::<u64>() as f64, pj.iter().sum::<u64>() as f64);
        let mut mi = 0.0;
        for ((i, j), &v) in self.table.indexed_iter() {
            if v == 0 {
                continue;
            }
            let nm = v as f64 / total;
            let outer = (pi[i] as i64 * pj[j] as i64) as f64;
            let log_outer = -outer.ln() + sum_i.ln() + sum_j.ln();
            let term = nm * ((v as f64).ln() - total.ln()) + nm * log_outer;
            mi += if term.abs() < f64::EPSILON { 0.0 } else { term };
        }
        mi.max(0.0)
    }

    fn n_classes(&self) -> usize {
        self.row_sums().iter().filter(|&&v| v > 0).count()
    }
    fn n_clusters(&self) -> usize {
        self.col_sums().iter().filter(|&&v| v > 0).count()
    }

    pub fn nmi(&self) -> f64 {
        let (c, k) = (self.n_classes(), self.n_clusters());
        if (c == 1 && k == 1) || (c == 0 && k == 0) {
            return 1.0;
        }
        let mi = self.mutual_info();
        if mi == 0.0 {
            return 0.0;
        }
        let (ht, hp) = (entropy(&self.row_sums()), entropy(&self.col_sums()));
        mi / ((ht + hp) / 2.0)
    }

    /// Adjusted mutual information (arithmetic normaliser), with the expected
    /// mutual information of the hypergeometric model.
    pub fn ami(&self) -> f64 {
        let (c, k) = (self.n_classes(), self.n_clusters());
        if (c == 1 && k == 1) || (c == 0 && k == 0) {
            return 1.0;
        }
        let mi = self.mutual_info();
        let emi = expected_mutual_info(&self.row_sums(), &self.col_sums(), self.n);
        let (ht, hp) = (entropy(&self.row_sums()), entropy(&self.col_sums()));
        let normalizer = (ht + hp) / 2.0;
        let mut den = normalizer - emi;
        den = if den < 0.0 {
            den.min(-f64::EPSILON)
        } else {
            den.max(f64::EPSILON)
        };
        (mi - emi) / den
    }

    pub fn homogeneity_completeness_v(&self) -> (f64, f64, f64) {
        if self.n == 0 {
            return (1.0, 1.0, 1.0);
        }
        let (hc, hk) = (entropy(&self.row_sums()), entropy(&self.col_sums()));
        let mi = self.mutual_info();
        let h = if hc != 0.0 { mi / hc } else { 1.0 };
        let c = if hk != 0.0 { mi / hk } else { 1.0 };
        let v = if h + c == 0.0 {
            0.0
        } else {
            2.0 * h * c / (h + c)
        };
        (h, c, v)
    }

    /// The best one-to-one matching of clusters to classes (Hungarian
    /// algorithm on the counts): for each cluster (column), the class (row)
    /// it is matched to, or None when there are more clusters than classes
    /// and it is left over. Cluster accuracy scores this matching; the
    /// report colours each cluster like its matched class.
    pub fn matching(&self) -> Vec<Option<usize>> {
        let (r, c) = self.table.dim();
        let size = r.max(c);
        let max = self.table.iter().copied().max().unwrap_or(0) as i64;
        // Minimise (max − count) on the square-padded table.
        let cost: Vec<Vec<i64>> = (0..size)
            .map(|i| {
                (0..size)
                    .map(|j| {
                        if i < r && j < c {
                            max - self.table[[i, j]] as i64
                        } else {
                            max
                        }
                    })
                    .collect()
            })
            .collect();
        let mut class_of = vec![None; c];
        for (i, j) in hungarian(&cost).into_iter().enumerate() {
            if i < r && j < c {
                class_of[j] = Some(i);
            }
        }
        class_of
    }

    /// Cluster accuracy: the fraction of points whose cluster is matched to
    /// their class under the best one-to-one matching of clusters to classes
    /// ([`Contingency::matching`]); unmatched clusters count as wrong.
    pub fn accuracy(&self) -> f64 {
        if self.n == 0 || self.table.is_empty() {
            return 1.0;
        }
        let matched: u64 = self
            .matching()
            .iter()
            .enumerate()
            .filter_map(|(j, i)| i.map(|i| self.table[[i, j]]))
            .sum();
        matched as f64 / self.n as f64
    }

    /// Σ over clusters of the largest class count, over n.
    pub fn purity(&self) -> f64 {
        let best: u64 = self
            .table
            .columns()
            .into_iter()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .sum();
        best as f64 / self.n as f64
    }
}

/// Minimum-cost perfect assignment on a square matrix (the O(n³)
/// Hungarian algorithm with potentials); returns the column of each row.
/// Written here: the matrices are tiny (classes × clusters) and no
/// dependency is worth it.
fn hungarian(cost: &[Vec<i64>]) -> Vec<usize> {
    let n = cost.len();
    let inf = i64::MAX / 4;
    let (mut u, mut v) = (vec![0i64; n + 1], vec![0i64; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (inf, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_to_col = vec![0usize; n];
    for j in 1..=n {
        if p[j] > 0 {
            row_to_col[p[j] - 1] = j - 1;
        }
    }
    row_to_col
}

/// Entropy in nats of a label distribution given by counts.
fn entropy(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 1.0;
    }
    let t = total as f64;
    -counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| (c as f64 / t) * ((c as f64).ln() - t.ln()))
        .sum::<f64>()
}

/// E[MI] under random labellings with fixed marginals (Vinh et al. 2010),
/// as scikit-learn's `expected_mutual_information`; log-factorials from a
/// table of cumulative logs.
fn expected_mutual_info(a: &[u64], b: &[u64], n: usize) -> f64 {
    let a: Vec<usize> = a.iter().filter(|&&v| v > 0).map(|&v| v as usize).collect();
    let b: Vec<usize> = b.iter().filter(|&&v| v > 0).map(|&v| v as usize).collect();
    let mut lf = vec![0f64; n + 2];
    for i in 2..=n + 1 {
        lf[i] = lf[i - 1] + (i as f64).ln();
    }
    let nf = n as f64;
    let mut emi = 0.0;
    for &ai in &a {
        for &bj in &b {
            let start = (ai + bj).saturating_sub(n).max(1);
            let end = ai.min(bj);
            for nij in start..=end {
                let nijf = nij as f64;
                let term1 = nijf / nf;
                let term2 = (nf * nijf).ln() - ((ai * bj) as f64).ln();
                let gln = lf[ai] + lf[bj] + lf[n - ai] + lf[n - bj]
                    - lf[n]
                    - lf[nij]
                    - lf[ai - nij]
                    - lf[bj - nij]
                    - lf[n + nij - ai - bj];
                emi += term1 * term2 * gln.exp();
            }
        }
    }
    emi
}

/// Everything scored for one clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// scikit-learn's convention: −1 (noise) is an ordinary cluster.
    pub metrics: BTreeMap<String, Score>,
    /// The same metrics on the points with label ≠ −1, when there is noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_excluded: Option<BTreeMap<String, Score>>,
    /// External metrics of the same clustering against a random permutation
    /// of the true labels: what chance agreement looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<BTreeMap<String, Score>>,
}

pub fn scorecard(
    x: ArrayView2<f64>,
    pred: &[i64],
    truth: Option<&[usize]>,
    names: &[String],
    seed: u64,
) -> Scorecard {
    let metrics = score_all(x, pred, truth, names);
    let noise_excluded = pred.contains(&-1).then(|| {
        let keep: Vec<usize> = (0..pred.len()).filter(|&i| pred[i] != -1).collect();
        if keep.is_empty() {
            return undefined_all(names, "every point is noise: no non-noise points to score");
        }
        let xk = x.select(ndarray::Axis(0), &keep);
        let pk: Vec<i64> = keep.iter().map(|&i| pred[i]).collect();
        let tk: Option<Vec<usize>> = truth.map(|t| keep.iter().map(|&i| t[i]).collect());
        score_all(xk.view(), &pk, tk.as_deref(), names)
    });
    let control = truth.map(|t| {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        // Labels are permuted among the labelled rows only; unlabelled rows
        // stay unlabelled (with every row labelled, this is a plain shuffle).
        let at: Vec<usize> = (0..t.len()).filter(|&i| t[i] != UNLABELLED).collect();
        let mut values: Vec<usize> = at.iter().map(|&i| t[i]).collect();
        values.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
            seed ^ 0x5eed_c0de,
        ));
        let mut shuffled = t.to_vec();
        for (&i, v) in at.iter().zip(values) {
            shuffled[i] = v;
        }
        let external: Vec<String> = names
            .iter()
            .filter(|n| EXTERNAL.contains(&n.as_str()))
            .cloned()
            .collect();
        score_all(x, pred, Some(&shuffled), &external)
    });
    Scorecard {
        metrics,
        noise_excluded,
        control,
    }
}
