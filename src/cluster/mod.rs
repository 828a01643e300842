//! Clusterers, metrics and 2-D projections. Each clusterer is one file
//! implementing [`Clusterer`] plus one line in [`REGISTRY`].

pub mod agglomerative;
pub mod choose_k;
pub mod dbscan;
pub mod exemplars;
pub mod gmm;
pub mod io;
pub mod kmeans;
pub mod knn;
pub mod metrics;
pub mod project;
pub mod trustworthiness;
pub mod umap;

pub use exemplars::exemplars;

use anyhow::Result;
use ndarray::Array2;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use choose_k::{AutoK, Clustering, Criterion, Fit, KChoice, KPoint};

use crate::spec::KeyError;

pub trait Clusterer: Send + Sync {
    fn kind(&self) -> &'static str;
    fn params(&self) -> serde_json::Value;
    fn version(&self) -> u32 {
        1
    }
    /// The number of clusters asked for; None for clusterers that find it
    /// themselves (DBSCAN).
    fn n_clusters(&self) -> Option<NClusters> {
        None
    }
    /// Whether fits report a BIC, so that `k = { auto = …, by = "bic" }` applies.
    fn has_bic(&self) -> bool {
        false
    }
    /// One fit; `k` is Some exactly when [`Clusterer::n_clusters`] is.
    fn fit(&self, x: &Array2<f32>, k: Option<usize>, seed: u64) -> Result<Fit>;
    /// Labels per row, and for `k = { auto = … }` how k was chosen.
    /// `n_classes` is the number of true classes, when known (for `k = "labels"`).
    fn fit_predict_detailed(
        &self,
        x: &Array2<f32>,
        n_classes: Option<usize>,
        seed: u64,
    ) -> Result<Clustering> {
        choose_k::fit_predict(self, x, n_classes, seed)
    }
    /// Labels per row; −1 marks noise for clusterers that have it.
    fn fit_predict(
        &self,
        x: &Array2<f32>,
        n_classes: Option<usize>,
        seed: u64,
    ) -> Result<Vec<i64>> {
        Ok(self.fit_predict_detailed(x, n_classes, seed)?.labels)
    }
}

/// The `k` a clusterer with [`Clusterer::n_clusters`] is always given.
pub fn given_k(k: Option<usize>) -> Result<usize> {
    k.ok_or_else(|| anyhow::anyhow!("internal: a clusterer that takes k was fitted without one"))
}

type ParseFn = fn(&toml::Table, &[String]) -> Result<Box<dyn Clusterer>, KeyError>;
/// The JSON Schema of the keys a kind takes (see [`crate::spec::schema`]).
type SchemaFn = fn(&mut schemars::SchemaGenerator) -> serde_json::Value;

/// kind, parser, schema of its keys.
pub const REGISTRY: &[(&str, ParseFn, SchemaFn)] = &[
    (
        "kmeans",
        kmeans::parse,
        crate::spec::schema::object::<kmeans::KMeansParams>,
    ),
    (
        "agglomerative",
        agglomerative::parse,
        crate::spec::schema::object::<agglomerative::AgglomerativeParams>,
    ),
    (
        "dbscan",
        dbscan::parse,
        crate::spec::schema::object::<dbscan::DbscanParams>,
    ),
    (
        "gmm",
        gmm::parse,
        crate::spec::schema::object::<gmm::GmmParams>,
    ),
];

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Clusterer>, KeyError> {
    let kinds: Vec<&str> = REGISTRY.iter().map(|(k, _, _)| *k).collect();
    let kind = crate::spec::kind_of(table, path, &kinds)?;
    let (_, parse, _) = REGISTRY
        .iter()
        .find(|(k, _, _)| *k == kind)
        .expect("kind_of checked the kind");
    crate::spec::schema::check_clusterer_keys(table, path, kind)?;
    // `standardize` is common to every clusterer, so it is handled here.
    let mut table = table.clone();
    let standardize = match table.remove("standardize") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            return Err(KeyError::new(
                &crate::spec::error::join_path(path, &["standardize".into()]),
                format!(
                    "expected true or false, found {}",
                    crate::spec::grid::type_name(&other)
                ),
            ))
        }
    };
    let inner = parse(&table, path)?;
    // `by = "bic"` needs a likelihood: checked once here for every kind.
    if let Some(NClusters::Auto(auto)) = inner.n_clusters() {
        if auto.by == Criterion::Bic && !inner.has_bic() {
            return Err(KeyError::new(
                &crate::spec::error::join_path(path, &["k".into(), "by".into()]),
                format!(
                    "`bic` needs a likelihood model (kind = \"gmm\"); `{}` has none: use silhouette, calinski_harabasz or davies_bouldin",
                    inner.kind()
                ),
            ));
        }
    }
    Ok(if standardize {
        Box::new(Standardized(inner))
    } else {
        inner
    })
}

/// Scales every latent dimension to zero mean and unit variance before the
/// wrapped clusterer sees it (`standardize = true`).
pub struct Standardized(Box<dyn Clusterer>);

impl Clusterer for Standardized {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn params(&self) -> serde_json::Value {
        let mut p = self.0.params();
        p["standardize"] = serde_json::Value::Bool(true);
        p
    }
    fn version(&self) -> u32 {
        self.0.version()
    }
    fn n_clusters(&self) -> Option<NClusters> {
        self.0.n_clusters()
    }
    fn has_bic(&self) -> bool {
        self.0.has_bic()
    }
    fn fit(&self, x: &Array2<f32>, k: Option<usize>, seed: u64) -> Result<Fit> {
        let mut x = x.clone();
        crate::pipeline::features::standardize(&mut x);
        self.0.fit(&x, k, seed)
    }
    /// Standardises once, then chooses k (if asked) on the standardised data.
    fn fit_predict_detailed(
        &self,
        x: &Array2<f32>,
        n_classes: Option<usize>,
        seed: u64,
    ) -> Result<Clustering> {
        let mut x = x.clone();
        crate::pipeline::features::standardize(&mut x);
        self.0.fit_predict_detailed(&x, n_classes, seed)
    }
}

/// A number of clusters: fixed, `"labels"` for the number of true classes,
/// or `{ auto = [lo, hi], by = "silhouette" }` to choose it (see [`choose_k`]).
/// Parsed here once for every clusterer that takes `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NClusters {
    Fixed(usize),
    Labels,
    Auto(AutoK),
}

impl NClusters {
    /// The number of clusters for `n_points` points with `n_classes` true
    /// classes; an automatic k has none until it is chosen (an error here).
    pub fn resolve(self, n_classes: Option<usize>, n_points: usize) -> Result<usize> {
        let k = match self {
            NClusters::Fixed(k) => k,
            NClusters::Labels => n_classes.ok_or_else(|| {
                anyhow::anyhow!("k = \"labels\" needs a labelled dataset; give a number instead")
            })?,
            NClusters::Auto(_) => {
                anyhow::bail!("internal: an automatic k is chosen by choose_k, not resolved")
            }
        };
        if k > n_points {
            anyhow::bail!("k = {k} exceeds the number of points ({n_points})");
        }
        Ok(k)
    }
}

impl schemars::JsonSchema for NClusters {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NClusters".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let criteria: Vec<&str> = Criterion::ALL.iter().map(|c| c.name()).collect();
        schemars::json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 2 },
                { "type": "string", "enum": ["labels"] },
                {
                    "type": "object",
                    "description": "Choose k from the data: the best of lo..=hi by the criterion.",
                    "properties": {
                        "auto": {
                            "type": "array",
                            "items": { "type": "integer", "minimum": 2 },
                            "minItems": 2,
                            "maxItems": 2,
                            "description": "[lo, hi], the range of k to try."
                        },
                        "by": {
                            "type": "string",
                            "enum": criteria,
                            "default": "silhouette",
                            "description": "The criterion that chooses k."
                        }
                    },
                    "required": ["auto"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl Serialize for NClusters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            NClusters::Fixed(k) => s.serialize_u64(*k as u64),
            NClusters::Labels => s.serialize_str("labels"),
            NClusters::Auto(a) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("auto", &[a.lo, a.hi])?;
                m.serialize_entry("by", a.by.name())?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for NClusters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NClusters;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an integer of at least 2, \"labels\", or { auto = [lo, hi], by = \"silhouette\" }",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NClusters, E> {
                if v >= 2 {
                    Ok(NClusters::Fixed(v as usize))
                } else {
                    Err(E::custom(format!(
                        "expected at least 2 clusters, found {v}"
                    )))
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NClusters, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NClusters, E> {
                if v == "labels" {
                    Ok(NClusters::Labels)
                } else {
                    Err(E::custom(format!(
                        "expected an integer or \"labels\", found \"{v}\""
                    )))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NClusters, A::Error> {
                use serde::de::Error;
                let (mut range, mut by): (Option<Vec<i64>>, Option<String>) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "auto" => range = Some(map.next_value()?),
                        "by" => by = Some(map.next_value()?),
                        other => {
                            return Err(A::Error::custom(format!(
                                "unknown key `{other}` in k; expected `auto` and `by`"
                            )))
                        }
                    }
                }
                let range = range.ok_or_else(|| {
                    A::Error::custom("missing `auto = [lo, hi]`, the range of k to try")
                })?;
                let [lo, hi] = range[..] else {
                    return Err(A::Error::custom(format!(
                        "auto must be [lo, hi], two integers; found {} value(s)",
                        range.len()
                    )));
                };
                if lo < 2 {
                    return Err(A::Error::custom(format!(
                        "auto = [{lo}, {hi}]: the smallest k must be at least 2"
                    )));
                }
                if hi < lo {
                    return Err(A::Error::custom(format!(
                        "auto = [{lo}, {hi}]: the largest k must be at least the smallest"
                    )));
                }
                // Silhouette is the criterion that needs no model and no scale.
                let by = match by.as_deref() {
                    None => Criterion::Silhouette,
                    Some(name) => Criterion::from_name(name).ok_or_else(|| {
                        let names: Vec<&str> = Criterion::ALL.iter().map(|c| c.name()).collect();
                        A::Error::custom(format!(
                            "unknown criterion by = \"{name}\"; one of {}",
                            names.join(", ")
                        ))
                    })?,
                };
                Ok(NClusters::Auto(AutoK {
                    lo: lo as usize,
                    hi: hi as usize,
                    by,
                }))
            }
        }
        d.deserialize_any(V)
    }
}
