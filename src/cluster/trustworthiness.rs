//! Trustworthiness of an embedding (Venna & Kaski 2001), as scikit-learn's
//! `sklearn.manifold.trustworthiness` (euclidean): how far the embedding's
//! k nearest neighbours of each point are from being its nearest neighbours
//! in the original space. 1 means every embedded neighbour is a true one.
//!
//! T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Nₖ(i) embedded} max(0, r(i, j) − k),
//! with r(i, j) the rank of j among i's neighbours in the original space
//! (1 = nearest). Ranks are counted, not sorted: memory stays O(n) per thread.

use anyhow::{bail, Result};
use ndarray::Array2;
use rayon::prelude::*;

use super::kmeans::{sq_dist, Points};

pub fn trustworthiness(x: &Array2<f32>, embedded: &Array2<f32>, k: usize) -> Result<f64> {
    let n = x.nrows();
    if embedded.nrows() != n {
        bail!("the embedding has {} rows for {n} points", embedded.nrows());
    }
    // scikit-learn's own bound: the normaliser is defined only below n/2.
    if k == 0 || 2 * k >= n {
        bail!("trustworthiness needs 1 <= k < n / 2 (k = {k}, n = {n})");
    }
    let xp = Points::new(x);
    let emb = super::knn::exact(&Points::new(embedded), k, false);
    let penalty: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = xp.row(i);
            let d: Vec<f64> = (0..n).map(|l| sq_dist(xi, xp.row(l))).collect();
            let mut sum = 0usize;
            for &j in emb.row(i).0 {
                // Rank of j among i's neighbours (i itself excluded); ties
                // go to the lower index, a stable argsort's order.
                let rank = 1
                    + (0..n)
                        .filter(|&l| l != i && (d[l] < d[j] || (d[l] == d[j] && l < j)))
                        .count();
                sum += rank.saturating_sub(k);
            }
            sum as f64
        })
        .collect();
    let t: f64 = penalty.iter().sum();
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - t * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_embedding_is_fully_trustworthy() {
        let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + i as f32);
        assert_eq!(trustworthiness(&x, &x, 5).unwrap(), 1.0);
    }

    #[test]
    fn a_scrambled_embedding_loses_trust() {
        let x = Array2::from_shape_fn((60, 1), |(i, _)| i as f32);
        // Reversing the order keeps every neighbourhood; interleaving breaks them.
        let rev = Array2::from_shape_fn((60, 1), |(i, _)| -(i as f32));
        let mixed = Array2::from_shape_fn((60, 1), |(i, _)| ((i * 37) % 60) as f32);
        assert_eq!(trustworthiness(&x, &rev, 5).unwrap(), 1.0);
        let t = trustworthiness(&x, &mixed, 5).unwrap();
        assert!(t < 0.8, "{t}");
    }

    #[test]
    fn k_bound_is_scikit_learns() {
        let x = Array2::<f32>::zeros((10, 2));
        assert!(trustworthiness(&x, &x, 5).is_err());
        assert!(trustworthiness(&x, &x, 4).is_ok());
    }
}
