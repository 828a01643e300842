//! Exact k-nearest neighbours (euclidean), shared by UMAP's graph and the
//! trustworthiness score. Brute force, one row per task: O(n² d) time and
//! O(k) memory per row. Each row's neighbours are ordered by (distance,
//! index), so the result does not depend on the thread count.

use rayon::prelude::*;

use super::kmeans::{sq_dist, Points};

/// Each point's `k` nearest neighbours: `indices[i * k + j]` with euclidean
/// distance `distances[i * k + j]`, nearest first.
pub struct Knn {
    pub k: usize,
    pub indices: Vec<usize>,
    pub distances: Vec<f64>,
}

impl Knn {
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = i * self.k..(i + 1) * self.k;
        (&self.indices[r.clone()], &self.distances[r])
    }
}

/// The `k` nearest neighbours of every point. With `include_self` the point
/// itself counts as its own first neighbour (distance 0), as in umap-learn;
/// without it, it is left out, as in scikit-learn's `kneighbors()`.
pub fn exact(x: &Points, k: usize, include_self: bool) -> Knn {
    let n = x.n;
    let avail = if include_self { n } else { n - 1 };
    assert!(k >= 1 && k <= avail, "k = {k} neighbours of {n} points");
    let rows: Vec<(Vec<usize>, Vec<f64>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            // The k best so far, sorted by (squared distance, index); the
            // point itself enters first with a key below every distance.
            let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
            if include_self {
                best.push((-1.0, i));
            }
            for j in (0..n).filter(|&j| j != i) {
                let d = sq_dist(xi, x.row(j));
                if best.len() == k && d >= best[k - 1].0 {
                    continue; // most candidates stop here
                }
                // After equal distances: j only grows, so ties keep index order.
                let at = best.partition_point(|e| e.0 <= d);
                best.insert(at, (d, j));
                best.truncate(k);
            }
            best.into_iter()
                .map(|(s, j)| (j, s.max(0.0).sqrt()))
                .unzip()
        })
        .collect();
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for (i, d) in rows {
        indices.extend(i);
        distances.extend(d);
    }
    Knn {
        k,
        indices,
        distances,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn neighbours_on_a_line() {
        let x = Array2::from_shape_vec((5, 1), vec![0.0f32, 1.0, 3.0, 6.0, 10.0]).unwrap();
        let p = Points::new(&x);
        let with = exact(&p, 3, true);
        assert_eq!(with.row(2).0, &[2, 1, 0]);
        assert_eq!(with.row(2).1, &[0.0, 2.0, 3.0]);
        let without = exact(&p, 2, false);
        assert_eq!(without.row(0).0, &[1, 2]);
        assert_eq!(without.row(4).0, &[3, 2]);
    }

    #[test]
    fn duplicates_put_self_first() {
        let x = Array2::from_shape_vec((3, 1), vec![1.0f32, 1.0, 5.0]).unwrap();
        let knn = exact(&Points::new(&x), 2, true);
        assert_eq!(knn.row(0).0, &[0, 1]);
        assert_eq!(knn.row(1).0, &[1, 0]);
    }
}
