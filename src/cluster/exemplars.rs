//! The tracks that stand for each cluster: those nearest its centre (the
//! mean of its members) in the latent space the clusterer saw. The report
//! lists them with players, since listening to a cluster's most typical
//! tracks is how a clustering of music is judged by ear.

use std::collections::BTreeMap;

use ndarray::Array2;

/// For each cluster (noise, −1, is left out), up to `per_cluster` rows of
/// `latent`, nearest the cluster's centroid first (Euclidean). Ties go to
/// the lower row, so the result is deterministic. `labels[i]` is the
/// cluster of row `i`.
pub fn exemplars(
    latent: &Array2<f32>,
    labels: &[i64],
    per_cluster: usize,
) -> BTreeMap<i64, Vec<usize>> {
    assert_eq!(
        latent.nrows(),
        labels.len(),
        "one cluster label per latent row"
    );
    let mut members: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    if per_cluster == 0 {
        return members;
    }
    for (row, &label) in labels.iter().enumerate() {
        if label >= 0 {
            members.entry(label).or_default().push(row);
        }
    }
    members
        .into_iter()
        .map(|(cluster, rows)| {
            // Sums in f64: a centroid of thousands of f32 rows loses digits otherwise.
            let mut centre = vec![0f64; latent.ncols()];
            for &r in &rows {
                for (c, &v) in centre.iter_mut().zip(latent.row(r)) {
                    *c += v as f64;
                }
            }
            let n = rows.len() as f64;
            centre.iter_mut().for_each(|c| *c /= n);
            let mut by_distance: Vec<(f64, usize)> = rows
                .iter()
                .map(|&r| {
                    let d: f64 = centre
                        .iter()
                        .zip(latent.row(r))
                        .map(|(c, &v)| (v as f64 - c).powi(2))
                        .sum();
                    (d, r)
                })
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let nearest = by_distance
                .into_iter()
                .take(per_cluster)
                .map(|(_, r)| r)
                .collect();
            (cluster, nearest)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn nearest_to_each_centroid_first() {
        // Cluster 0: centroid (1, 0); row 1 sits on it, rows 0 and 2 are 1 away.
        // Cluster 5: centroid (10, 10.5); row 4 is 0.5 away, row 3 is 1.5.
        let x = array![
            [0.0f32, 0.0],
            [1.0, 0.0],
            [2.0, 0.0],
            [10.0, 9.0],
            [10.0, 11.0],
            [10.0, 11.5],
        ];
        let got = exemplars(&x, &[0, 0, 0, 5, 5, 5], 2);
        assert_eq!(got[&0], vec![1, 0]); // rows 0 and 2 tie: the lower row wins
        assert_eq!(got[&5], vec![4, 5]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn noise_is_left_out_and_small_clusters_give_what_they_have() {
        let x = array![[0.0f32], [1.0], [5.0], [9.0]];
        let got = exemplars(&x, &[-1, 2, 2, -1], 5);
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(got[&2], vec![1, 2]); // both 2 away from 3: by row
    }

    #[test]
    fn zero_per_cluster_lists_nothing() {
        let x = array![[0.0f32], [1.0]];
        assert!(exemplars(&x, &[0, 1], 0).is_empty());
    }
}
