//! The experiment file's JSON Schema (`runner schema`), for editors: Taplo
//! and Even Better TOML complete and check keys against it as one types.
//!
//! It is derived (schemars) from the very structs that validation
//! deserialises each section into, and the kind-dependent sections are
//! assembled from the same registries that parse them, so a key cannot be
//! added, renamed or given another default in one place only. The key
//! lists that unknown-key errors suggest from come from here too.
//!
//! The schema says what the file may hold: keys, types, defaults, allowed
//! values, and sweeps (`key = { sweep = [...] }`) wherever validation takes
//! them. Cross-key rules (`fmin < fmax`, a value against the sample rate)
//! are `runner validate`'s. It is written for draft 7 but keeps to the
//! keywords of draft 4 that Taplo implements: `enum` rather than `const`,
//! and `oneOf` on `kind` rather than `if`/`then`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::error::KeyError;
use super::{ExecutorSection, ExperimentSection, Group, MetricsSection, ReportSection};
use crate::cluster::metrics::ALL_METRICS;

/// A generator that inlines every subschema: each section's schema is
/// then self-contained, and can be filtered and merged as plain JSON.
pub fn generator() -> SchemaGenerator {
    SchemaGenerator::new(SchemaSettings::draft07().with(|s| s.inline_subschemas = true))
}

/// The schema of one parameter struct, as a JSON object schema.
pub fn object<T: JsonSchema>(gen: &mut SchemaGenerator) -> Value {
    let mut v = gen.subschema_for::<T>().to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    v
}

/// The property names of an object schema.
pub fn property_names(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Adds `from`'s properties to `into` (e.g. the training keys to a model's own).
pub fn merge_properties(into: &mut Value, from: &Value) {
    // `get_mut`, not `[]`: indexing a JSON object mutably inserts a null.
    if let (Some(dst), Some(src)) = (
        into.get_mut("properties").and_then(Value::as_object_mut),
        from.get("properties").and_then(Value::as_object),
    ) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
}

/// Keeps only the properties `keep` accepts (and drops them from `required`).
pub fn retain_properties(schema: &mut Value, keep: impl Fn(&str) -> bool) {
    if let Some(p) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        p.retain(|k, _| keep(k));
    }
    if let Some(r) = schema.get_mut("required").and_then(Value::as_array_mut) {
        r.retain(|k| k.as_str().is_some_and(&keep));
    }
}

fn set_property(schema: &mut Value, key: &str, value: Value) {
    if !schema["properties"].is_object() {
        schema["properties"] = json!({});
    }
    schema["properties"][key] = value;
}

/// The kind-specific object schema of a registry entry: its `kind` fixed.
fn with_kind(mut schema: Value, kind: &str, what: &str) -> Value {
    set_property(
        &mut schema,
        "kind",
        json!({ "type": "string", "enum": [kind], "description": format!("The {what} kind.") }),
    );
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    if !required.iter().any(|k| k == "kind") {
        let mut r = vec![json!("kind")];
        r.extend(required);
        schema["required"] = Value::Array(r);
    }
    schema["additionalProperties"] = json!(false);
    schema["description"] = json!(format!("A {what} of kind `{kind}`."));
    schema
}

/// Lets every property but `kind` (and the feature selector) be a sweep:
/// `key = { sweep = [v1, v2, ...] }`, each value of the key's own schema.
fn sweepable(mut schema: Value) -> Value {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (key, p) in props.iter_mut() {
            if key == "kind" || (key == "features" && p.get("x-vaerun-selector").is_some()) {
                continue;
            }
            let mut inner = p.clone();
            let mut outer = Map::new();
            // Documentation stays on the outer schema, where editors show it.
            if let Some(o) = inner.as_object_mut() {
                for doc in ["description", "default", "title"] {
                    if let Some(v) = o.remove(doc) {
                        outer.insert(doc.into(), v);
                    }
                }
            }
            let sweep = json!({
                "type": "object",
                "description": "A sweep: one cell per value.",
                "properties": { "sweep": { "type": "array", "minItems": 1, "items": inner.clone() } },
                "required": ["sweep"],
                "additionalProperties": false
            });
            outer.insert("anyOf".into(), json!([inner, sweep]));
            *p = Value::Object(outer);
        }
    }
    if let Some(p) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("features"))
        .and_then(Value::as_object_mut)
    {
        p.remove("x-vaerun-selector");
    }
    schema
}

/// One `oneOf` branch per kind of a registry.
fn one_of_kinds(description: &str, branches: Vec<Value>) -> Value {
    json!({ "type": "object", "description": description, "required": ["kind"], "oneOf": branches })
}

/// The key every representation takes besides its kind's own.
fn feature_selector() -> Value {
    json!({
        "description": "The feature set(s) this representation consumes, by name (default: every compatible one).",
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" }, "minItems": 1 }
        ],
        "x-vaerun-selector": true
    })
}

/// The keys a representation of `kind` takes (its schema's), with `features`.
fn representation(kind: &str, gen: &mut SchemaGenerator) -> Option<Value> {
    let (_, _, _, schema) = crate::models::REGISTRY.iter().find(|r| r.0 == kind)?;
    let mut s = with_kind(schema(gen), kind, "representation");
    set_property(&mut s, "features", feature_selector());
    Some(s)
}

/// The keys a clusterer of `kind` takes, with `standardize`.
fn clusterer(kind: &str, gen: &mut SchemaGenerator) -> Option<Value> {
    let (_, _, schema) = crate::cluster::REGISTRY.iter().find(|r| r.0 == kind)?;
    let mut s = with_kind(schema(gen), kind, "clusterer");
    set_property(
        &mut s,
        "standardize",
        json!({
            "type": "boolean",
            "default": false,
            "description": "Scale every latent dimension to zero mean and unit variance before clustering."
        }),
    );
    Some(s)
}

/// The whole experiment file's schema (what `runner schema` prints).
pub fn experiment_schema() -> Value {
    let mut gen = generator();
    let g = &mut gen;

    let mut experiment = object::<ExperimentSection>(g);
    experiment["description"] = json!("The study: its name, seeds, device and cache.");

    let datasets: Vec<Value> = crate::data::DATASET_KINDS
        .iter()
        .map(|&k| with_kind(crate::data::DatasetSpec::schema(k, g), k, "dataset"))
        .collect();

    let feature_set = sweepable(object::<crate::dsp::FeatureSetSpec>(g));

    let mut groups: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (kind, group, _, _) in crate::models::REGISTRY {
        let section = match group {
            Group::Model => "models",
            Group::Baseline => "baselines",
        };
        let s = representation(kind, g).expect("a registered kind");
        groups.entry(section).or_default().push(sweepable(s));
    }
    let clusterers: Vec<Value> = crate::cluster::REGISTRY
        .iter()
        .map(|(k, _, _)| sweepable(clusterer(k, g).expect("a registered kind")))
        .collect();

    let mut metrics = object::<MetricsSection>(g);
    metrics["description"] = json!("Which metrics are computed.");
    metrics["properties"]["include"]["items"] = json!({ "type": "string", "enum": ALL_METRICS });
    let mut report = object::<ReportSection>(g);
    report["description"] = json!("Where and how the report is written.");
    report["properties"]["sort_by"] = json!({
        "type": "string",
        "enum": ALL_METRICS,
        "description": "Metric that orders the leaderboard (default: nmi_arithmetic with labels, else silhouette)."
    });

    let mut executor = object::<ExecutorSection>(g);
    executor["description"] =
        json!("Where `runner submit` runs the study (never what it computes).");

    let named = |what: &str, entry: Value| json!({ "type": "object", "description": what, "additionalProperties": entry });
    let mut doc = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "vaerun experiment",
        "description": "An experiment file of vaerun (`runner validate` checks what a schema cannot).",
        "type": "object",
        "additionalProperties": false,
        "required": ["experiment", "dataset", "features", "clusterers"],
        "properties": {
            "experiment": experiment,
            "dataset": one_of_kinds("Where the tracks come from.", datasets),
            "features": named(
                "Named feature sets, each computed per track: [features.<name>].",
                feature_set
            ),
            "models": named(
                "Named trained representations: [models.<name>].",
                one_of_kinds("A model.", groups.remove("models").unwrap_or_default())
            ),
            "baselines": named(
                "Named baseline representations: [baselines.<name>].",
                one_of_kinds("A baseline.", groups.remove("baselines").unwrap_or_default())
            ),
            "clusterers": named(
                "Named clusterers: [clusterers.<name>].",
                one_of_kinds("A clusterer.", clusterers)
            ),
            "metrics": metrics,
            "report": report,
            "executor": executor
        }
    });
    draft4_keywords(&mut doc);
    describe_tags(&mut doc);
    doc
}

/// The tag of an internally tagged enum (`lyrics = { kind = "tfidf" }`,
/// `projection = { method = "pca" }`) gets no doc comment of its own from
/// schemars: each branch's tag says which variant it selects.
fn describe_tags(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                for tag in ["kind", "method"] {
                    if let Some(Value::Object(t)) = props.get_mut(tag) {
                        let single = t
                            .get("enum")
                            .and_then(Value::as_array)
                            .filter(|e| e.len() == 1)
                            .cloned();
                        if let (None, Some(e)) = (t.get("description"), single) {
                            t.insert("description".into(), json!(format!("Selects {}.", e[0])));
                        }
                    }
                }
            }
            o.values_mut().for_each(describe_tags);
        }
        Value::Array(a) => a.iter_mut().for_each(describe_tags),
        _ => {}
    }
}

/// Rewrites what schemars emits in draft-6/7 keywords into their draft-4
/// equivalents (Taplo implements draft 4): `const: v` becomes `enum: [v]`.
/// Also drops schemars' own `format`s (`uint`, `double`: not JSON Schema
/// formats; the type and `minimum` say it) and joins the lines of a doc
/// comment into the one-line description editors show.
fn draft4_keywords(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(c) = o.remove("const") {
                o.insert("enum".into(), json!([c]));
            }
            if o.get("format").and_then(Value::as_str).is_some_and(|f| {
                f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
            }) {
                o.remove("format");
            }
            if let Some(Value::String(d)) = o.get_mut("description") {
                *d = d.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            o.values_mut().for_each(draft4_keywords);
        }
        Value::Array(a) => a.iter_mut().for_each(draft4_keywords),
        _ => {}
    }
}

/// The keys each kind of a registry takes, from its schema, computed once.
type KindKeys = Vec<(&'static str, Vec<String>)>;

fn representation_keys() -> &'static KindKeys {
    static KEYS: OnceLock<KindKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut g = generator();
        crate::models::REGISTRY
            .iter()
            .map(|(k, _, _, _)| (*k, property_names(&representation(k, &mut g).unwrap())))
            .collect()
    })
}

fn clusterer_keys() -> &'static KindKeys {
    static KEYS: OnceLock<KindKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut g = generator();
        crate::cluster::REGISTRY
            .iter()
            .map(|(k, _, _)| (*k, property_names(&clusterer(k, &mut g).unwrap())))
            .collect()
    })
}

/// Checks a representation's keys against those its kind takes.
pub fn check_representation_keys(
    table: &toml::Table,
    path: &[String],
    kind: &str,
) -> Result<(), KeyError> {
    check_kind_keys(table, path, kind, representation_keys())
}

/// Checks a clusterer's keys against those its kind takes.
pub fn check_clusterer_keys(
    table: &toml::Table,
    path: &[String],
    kind: &str,
) -> Result<(), KeyError> {
    check_kind_keys(table, path, kind, clusterer_keys())
}

/// An unknown key is named with the nearest key this kind takes, or, when
/// another kind takes it, with the kinds that do.
fn check_kind_keys(
    table: &toml::Table,
    path: &[String],
    kind: &str,
    keys: &KindKeys,
) -> Result<(), KeyError> {
    let Some((_, mine)) = keys.iter().find(|(k, _)| *k == kind) else {
        return Ok(());
    };
    for key in table.keys() {
        if mine.contains(key) {
            continue;
        }
        let owners: Vec<String> = keys
            .iter()
            .filter(|(_, ks)| ks.contains(key))
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        let message = if !owners.is_empty() {
            format!(
                "`{key}` is not a parameter of kind `{kind}`; it belongs to {}",
                owners.join(", ")
            )
        } else {
            match super::suggest::nearest(key, mine.iter().map(String::as_str)) {
                Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
                None => format!(
                    "unknown key `{key}`; kind `{kind}` takes: {}",
                    mine.join(", ")
                ),
            }
        };
        return Err(KeyError::new(
            &super::error::join_path(path, std::slice::from_ref(key)),
            message,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dense_kind_lists_exactly_its_own_keys() {
        let keys = representation_keys();
        let of = |k: &str| &keys.iter().find(|(n, _)| *n == k).unwrap().1;
        let vae = of("vae");
        for k in [
            "epochs",
            "lr",
            "latent_dim",
            "kl_warmup",
            "features",
            "kind",
        ] {
            assert!(vae.iter().any(|x| x == k), "vae lacks {k}: {vae:?}");
        }
        for k in ["beta", "condition", "capacity_max"] {
            assert!(!vae.iter().any(|x| x == k), "vae lists {k}");
        }
        assert!(of("cvae").iter().any(|x| x == "condition"));
        assert!(!of("autoencoder").iter().any(|x| x == "kl_warmup"));
        assert!(of("conv_vae").iter().any(|x| x == "epochs"));
        assert!(!of("pca").iter().any(|x| x == "epochs"));
    }

    #[test]
    fn unknown_keys_name_the_kinds_that_take_them() {
        let t: toml::Table = "kind = \"vae\"\nbeta = 4.0".parse().unwrap();
        let e = check_representation_keys(&t, &["models".into(), "v".into()], "vae").unwrap_err();
        assert_eq!(e.dotted(), "models.v.beta");
        assert!(e.message.contains("`beta_vae`"), "{}", e.message);
        let t: toml::Table = "kind = \"vae\"\nepocs = 4".parse().unwrap();
        let e = check_representation_keys(&t, &["m".into()], "vae").unwrap_err();
        assert_eq!(e.message, "unknown key `epocs`; did you mean `epochs`?");
        let t: toml::Table = "kind = \"kmeans\"\nzzzzzz = 1".parse().unwrap();
        let e = check_clusterer_keys(&t, &["c".into()], "kmeans").unwrap_err();
        assert!(e.message.contains("standardize"), "{}", e.message);
    }
}
