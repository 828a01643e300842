//! Clusterers, metrics and (later) 2-D projections. Each clusterer is one
//! file implementing [`Clusterer`] plus one line in [`REGISTRY`].

pub mod agglomerative;
pub mod dbscan;
pub mod gmm;
pub mod io;
pub mod kmeans;
pub mod metrics;
pub mod project;

use anyhow::Result;
use ndarray::Array2;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::spec::KeyError;

pub trait Clusterer: Send + Sync {
    fn kind(&self) -> &'static str;
    fn params(&self) -> serde_json::Value;
    fn version(&self) -> u32 {
        1
    }
    /// Labels per row; −1 marks noise for clusterers that have it.
    /// `n_classes` is the number of true classes, when known (for `k = "labels"`).
    fn fit_predict(&self, x: &Array2<f32>, n_classes: Option<usize>, seed: u64)
        -> Result<Vec<i64>>;
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
    fn fit_predict(
        &self,
        x: &Array2<f32>,
        n_classes: Option<usize>,
        seed: u64,
    ) -> Result<Vec<i64>> {
        let mut x = x.clone();
        crate::pipeline::features::standardize(&mut x);
        self.0.fit_predict(&x, n_classes, seed)
    }
}

/// A number of clusters: fixed, or `"labels"` for the number of true classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NClusters {
    Fixed(usize),
    Labels,
}

impl NClusters {
    /// The number of clusters for `n_points` points with `n_classes` true classes.
    pub fn resolve(self, n_classes: Option<usize>, n_points: usize) -> Result<usize> {
        let k = match self {
            NClusters::Fixed(k) => k,
            NClusters::Labels => n_classes.ok_or_else(|| {
                anyhow::anyhow!("k = \"labels\" needs a labelled dataset; give a number instead")
            })?,
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
        schemars::json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 2 },
                { "type": "string", "enum": ["labels"] }
            ]
        })
    }
}

impl Serialize for NClusters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NClusters::Fixed(k) => s.serialize_u64(*k as u64),
            NClusters::Labels => s.serialize_str("labels"),
        }
    }
}

impl<'de> Deserialize<'de> for NClusters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NClusters;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer of at least 2, or \"labels\"")
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
        }
        d.deserialize_any(V)
    }
}
