//! Choosing the number of clusters: `k = { auto = [lo, hi], by = "silhouette" }`.
//!
//! The clusterer is fitted once per k in the range (same seed for every k,
//! in parallel; each fit is itself seeded, so the result does not depend on
//! the thread count), the criterion is scored on the data the clusterer saw
//! (scikit-learn's definitions, see [`super::metrics`]), and the best k wins;
//! ties go to the smaller k. The whole curve comes back as a [`KChoice`].

use anyhow::{bail, Result};
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Clusterer, NClusters};

/// What ranks the candidate k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Mean silhouette (higher is better).
    Silhouette,
    /// Calinski–Harabasz index (higher is better).
    CalinskiHarabasz,
    /// Davies–Bouldin index (lower is better).
    DaviesBouldin,
    /// Bayesian information criterion of a likelihood model (lower is
    /// better); only clusterers with a likelihood (GMM) have one.
    Bic,
}

impl Criterion {
    pub const ALL: &'static [Criterion] = &[
        Criterion::Silhouette,
        Criterion::CalinskiHarabasz,
        Criterion::DaviesBouldin,
        Criterion::Bic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Criterion::Silhouette => "silhouette",
            Criterion::CalinskiHarabasz => "calinski_harabasz",
            Criterion::DaviesBouldin => "davies_bouldin",
            Criterion::Bic => "bic",
        }
    }

    pub fn from_name(s: &str) -> Option<Criterion> {
        Criterion::ALL.iter().copied().find(|c| c.name() == s)
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Criterion::Silhouette | Criterion::CalinskiHarabasz)
    }

    /// Whether `a` beats `b` strictly (so ties keep the earlier, smaller k).
    fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }
}

/// `k = { auto = [lo, hi], by = … }`, checked at parse time: 2 ≤ lo ≤ hi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoK {
    pub lo: usize,
    pub hi: usize,
    pub by: Criterion,
}

/// One point of the criterion curve; `value` is None (with the reason)
/// where the criterion is undefined or the fit failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPoint {
    pub k: usize,
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How k was chosen: the criterion, its value for every k tried, the
/// winner, and a note when the range had to be narrowed to fit the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    pub by: Criterion,
    pub curve: Vec<KPoint>,
    pub chosen: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One fit of a clusterer.
pub struct Fit {
    /// Labels per row; −1 marks noise for clusterers that have it.
    pub labels: Vec<i64>,
    /// The fitted model's BIC, for clusterers with a likelihood.
    pub bic: Option<f64>,
}

impl Fit {
    pub fn labels(labels: Vec<i64>) -> Fit {
        Fit { labels, bic: None }
    }
}

/// A clustering, and how its k was chosen when it was chosen automatically.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub labels: Vec<i64>,
    pub k_choice: Option<KChoice>,
}

/// [`Clusterer::fit_predict_detailed`]'s default: resolves the clusterer's
/// k (fixed, `"labels"` or automatic) and fits.
pub fn fit_predict<C: Clusterer + ?Sized>(
    c: &C,
    x: &Array2<f32>,
    n_classes: Option<usize>,
    seed: u64,
) -> Result<Clustering> {
    let k = match c.n_clusters() {
        None => None,
        Some(NClusters::Auto(auto)) => return choose(c, x, auto, seed),
        Some(fixed) => Some(fixed.resolve(n_classes, x.nrows())?),
    };
    Ok(Clustering {
        labels: c.fit(x, k, seed)?.labels,
        k_choice: None,
    })
}

/// Fits every k of the range and keeps the best by the criterion.
pub fn choose<C: Clusterer + ?Sized>(
    c: &C,
    x: &Array2<f32>,
    auto: AutoK,
    seed: u64,
) -> Result<Clustering> {
    let n = x.nrows();
    let AutoK { lo, hi, by } = auto;
    // Internal criteria need 2 ≤ clusters ≤ n − 1.
    if lo + 1 > n {
        bail!("k = {{ auto = [{lo}, {hi}] }} needs more than {lo} points; the data has {n}");
    }
    let top = hi.min(n - 1);
    let note = (top < hi).then(|| {
        format!(
            "k range [{lo}, {hi}] narrowed to [{lo}, {top}]: {n} points allow at most {} clusters",
            n - 1
        )
    });
    let xd = x.mapv(|v| v as f64);
    let names = [by.name().to_string()];
    let fits: Vec<(KPoint, Option<Vec<i64>>)> = (lo..=top)
        .into_par_iter()
        .map(|k| match c.fit(x, Some(k), seed) {
            Err(e) => (
                KPoint {
                    k,
                    value: None,
                    reason: Some(format!("the fit failed: {e:#}")),
                },
                None,
            ),
            Ok(fit) => {
                let (value, reason) = if by == Criterion::Bic {
                    match fit.bic {
                        Some(b) => (Some(b), None),
                        None => (None, Some(format!("{} has no likelihood", c.kind()))),
                    }
                } else {
                    let s = super::metrics::score_all(xd.view(), &fit.labels, None, &names)
                        .remove(by.name())
                        .expect("score_all scores every name it is given");
                    (s.value, s.reason)
                };
                (KPoint { k, value, reason }, Some(fit.labels))
            }
        })
        .collect();
    let mut best: Option<usize> = None;
    for (i, (p, _)) in fits.iter().enumerate() {
        if let Some(v) = p.value {
            if best.is_none_or(|b| by.better(v, fits[b].0.value.unwrap())) {
                best = Some(i);
            }
        }
    }
    let Some(best) = best else {
        let why: Vec<String> = fits
            .iter()
            .map(|(p, _)| format!("k = {}: {}", p.k, p.reason.as_deref().unwrap_or("?")))
            .collect();
        bail!(
            "no k in [{lo}, {top}] has a defined {}: {}",
            by.name(),
            why.join("; ")
        );
    };
    let chosen = fits[best].0.k;
    let mut curve = Vec::with_capacity(fits.len());
    let mut labels = None;
    for (i, (p, l)) in fits.into_iter().enumerate() {
        if i == best {
            labels = l;
        }
        curve.push(p);
    }
    Ok(Clustering {
        labels: labels.expect("the best k has a fit"),
        k_choice: Some(KChoice {
            by,
            curve,
            chosen,
            note,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::KeyError;

    /// Four well-separated gaussian blobs (60 points each) in 5-D.
    fn blobs() -> Array2<f32> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        let nrm = Normal::new(0.0, 1.0).unwrap();
        Array2::from_shape_fn((240, 5), |(i, d)| {
            let c = i / 60;
            let centre =
                if d == c % 5 { 15.0 } else { 0.0 } + if d == 4 { 8.0 * c as f64 } else { 0.0 };
            (centre + nrm.sample(&mut rng)) as f32
        })
    }

    fn clusterer(toml: &str) -> Result<Box<dyn Clusterer>, KeyError> {
        let t: toml::Table = toml.parse().unwrap();
        super::super::parse(&t, &["clusterers".into(), "c".into()])
    }

    #[test]
    fn finds_the_true_k_with_every_criterion() {
        let x = blobs();
        let cases = [
            ("kmeans", "silhouette"),
            ("kmeans", "calinski_harabasz"),
            ("kmeans", "davies_bouldin"),
            ("agglomerative", "silhouette"),
            ("gmm", "silhouette"),
            ("gmm", "bic"),
        ];
        for (kind, by) in cases {
            let c = clusterer(&format!(
                "kind = \"{kind}\"\nk = {{ auto = [2, 8], by = \"{by}\" }}"
            ))
            .unwrap();
            let out = c.fit_predict_detailed(&x, None, 3).unwrap();
            let choice = out.k_choice.expect("an automatic k reports its choice");
            assert_eq!(choice.chosen, 4, "{kind} by {by}: {:?}", choice.curve);
            assert_eq!(choice.by.name(), by);
            let ks: Vec<usize> = choice.curve.iter().map(|p| p.k).collect();
            assert_eq!(ks, (2..=8).collect::<Vec<_>>());
            let (_, found) = super::super::metrics::encode(&out.labels);
            assert_eq!(found, 4, "{kind} by {by}: the labels are the chosen fit's");
        }
    }

    #[test]
    fn same_seed_same_choice() {
        let x = blobs();
        let c = clusterer("kind = \"kmeans\"\nk = { auto = [2, 6], by = \"silhouette\" }").unwrap();
        let a = c.fit_predict_detailed(&x, None, 5).unwrap();
        let b = c.fit_predict_detailed(&x, None, 5).unwrap();
        assert_eq!(a, b);
        // The thread count does not change the result.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| c.fit_predict_detailed(&x, None, 5).unwrap());
        assert_eq!(a, one);
    }

    /// A clusterer that returns the same two-cluster partition for every k:
    /// every k scores the same, and the smallest must win.
    struct Constant;
    impl Clusterer for Constant {
        fn kind(&self) -> &'static str {
            "constant"
        }
        fn params(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
        fn n_clusters(&self) -> Option<NClusters> {
            Some(NClusters::Auto(AutoK {
                lo: 3,
                hi: 6,
                by: Criterion::DaviesBouldin,
            }))
        }
        fn fit(&self, x: &Array2<f32>, _k: Option<usize>, _seed: u64) -> Result<Fit> {
            Ok(Fit::labels(
                (0..x.nrows()).map(|i| (i % 2) as i64).collect(),
            ))
        }
    }

    #[test]
    fn ties_go_to_the_smaller_k() {
        let out = Constant.fit_predict_detailed(&blobs(), None, 0).unwrap();
        let choice = out.k_choice.unwrap();
        let v0 = choice.curve[0].value.unwrap();
        assert!(choice.curve.iter().all(|p| p.value == Some(v0)));
        assert_eq!(choice.chosen, 3);
    }

    #[test]
    fn bic_is_for_likelihood_models_only() {
        let e = clusterer("kind = \"kmeans\"\nk = { auto = [2, 5], by = \"bic\" }")
            .err()
            .expect("kmeans has no BIC");
        assert_eq!(e.dotted(), "clusterers.c.k.by");
        assert!(e.message.contains("gmm"), "{}", e.message);
        let e = clusterer(
            "kind = \"agglomerative\"\nstandardize = true\nk = { auto = [2, 5], by = \"bic\" }",
        )
        .err()
        .expect("agglomerative has no BIC");
        assert_eq!(e.dotted(), "clusterers.c.k.by");
        assert!(clusterer("kind = \"gmm\"\nk = { auto = [2, 5], by = \"bic\" }").is_ok());
    }

    #[test]
    fn range_and_criterion_are_checked_where_written() {
        for (k, needle) in [
            ("{ auto = [1, 5] }", "at least 2"),
            ("{ auto = [5, 3] }", "at least the smallest"),
            ("{ auto = [2] }", "two integers"),
            ("{ auto = [2, 5], by = \"elbow\" }", "unknown criterion"),
            ("{ auto = [2, 5], bye = \"bic\" }", "unknown key `bye`"),
            ("{ by = \"silhouette\" }", "missing `auto"),
        ] {
            let e = clusterer(&format!("kind = \"kmeans\"\nk = {k}"))
                .err()
                .unwrap_or_else(|| panic!("{k} should be rejected"));
            assert!(
                e.dotted().starts_with("clusterers.c.k"),
                "{k}: {}",
                e.dotted()
            );
            assert!(e.message.contains(needle), "{k}: {}", e.message);
        }
        // The criterion defaults to silhouette, and the spec round-trips.
        let c = clusterer("kind = \"kmeans\"\nk = { auto = [2, 5] }").unwrap();
        assert_eq!(
            c.params()["k"],
            serde_json::json!({"auto": [2, 5], "by": "silhouette"})
        );
    }

    #[test]
    fn range_is_fitted_to_the_data() {
        let x = blobs().slice(ndarray::s![..6, ..]).to_owned();
        let c = clusterer("kind = \"kmeans\"\nk = { auto = [2, 16] }").unwrap();
        let choice = c
            .fit_predict_detailed(&x, None, 0)
            .unwrap()
            .k_choice
            .unwrap();
        assert_eq!(choice.curve.last().unwrap().k, 5, "at most n - 1 clusters");
        assert!(choice.note.unwrap().contains("narrowed to [2, 5]"));
        let c = clusterer("kind = \"kmeans\"\nk = { auto = [6, 8] }").unwrap();
        let e = c.fit_predict_detailed(&x, None, 0).unwrap_err();
        assert!(format!("{e}").contains("needs more than 6 points"), "{e}");
    }

    #[test]
    fn fixed_k_has_no_choice() {
        let c = clusterer("kind = \"kmeans\"\nk = 4").unwrap();
        let out = c.fit_predict_detailed(&blobs(), None, 0).unwrap();
        assert!(out.k_choice.is_none());
        assert_eq!(out.labels, c.fit_predict(&blobs(), None, 0).unwrap());
    }

    #[test]
    fn k_choice_serialises_for_the_report() {
        let c = KChoice {
            by: Criterion::CalinskiHarabasz,
            curve: vec![
                KPoint {
                    k: 2,
                    value: Some(1.5),
                    reason: None,
                },
                KPoint {
                    k: 3,
                    value: None,
                    reason: Some("the fit failed".into()),
                },
            ],
            chosen: 2,
            note: None,
        };
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"by": "calinski_harabasz", "curve": [{"k": 2, "value": 1.5}, {"k": 3, "value": null, "reason": "the fit failed"}], "chosen": 2})
        );
        assert_eq!(serde_json::from_value::<KChoice>(j).unwrap(), c);
    }
}
