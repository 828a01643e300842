//! What tells the configurations apart: for every feature set,
//! representation and clusterer of the study, the parameters that differ
//! from its kind's defaults or that vary between the components of one kind
//! (a sweep). A configuration is one of each, so three short tables describe
//! every configuration without repeating every default; results.json and
//! the CSV keep every resolved parameter.
//!
//! Defaults come from the registries themselves: the component's own kind
//! (and the kinds nested in it, such as `lyrics = { kind = "tfidf" }`) is
//! parsed with nothing else set, and a key the parser requires (a CVAE's
//! `condition`) is taken from the component.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::results::RunRecord;
use crate::spec::KeyError;

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    /// Differs between components of the same kind (a sweep, or two sections).
    pub varies: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    pub name: String,
    pub kind: String,
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamTable {
    /// "feature sets", "representations", "clusterers".
    pub stage: &'static str,
    /// Whether the components have kinds (feature sets have none).
    pub has_kind: bool,
    pub rows: Vec<ParamRow>,
}

#[derive(Clone, Copy)]
enum Stage {
    Features,
    Representation,
    Clusterer,
}

impl Stage {
    fn prefix(self) -> &'static str {
        match self {
            Stage::Features => "features.",
            Stage::Representation => "repr.",
            Stage::Clusterer => "cluster.",
        }
    }
}

/// One component: its name, kind, group (models/baselines) and own parameters (flattened).
struct Component {
    name: String,
    kind: String,
    group: String,
    params: BTreeMap<String, Value>,
}

fn components(rec: &RunRecord, stage: Stage) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::new();
    for c in &rec.cells {
        let (name, kind) = match stage {
            Stage::Features => (&c.feature_set, String::new()),
            Stage::Representation => (&c.representation, c.representation_kind.clone()),
            Stage::Clusterer => (&c.clusterer, c.clusterer_kind.clone()),
        };
        if out.iter().any(|o| &o.name == name) {
            continue;
        }
        let own: Map<String, Value> = c
            .params
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(stage.prefix())?.to_string(), v.clone())))
            .collect();
        out.push(Component {
            name: name.clone(),
            kind,
            group: c.group.clone(),
            params: flatten(&Value::Object(own)),
        });
    }
    out
}

/// `{"lyrics": {"kind": "tfidf", "norm": "l2"}}` → `lyrics.kind`, `lyrics.norm`.
fn flatten(v: &Value) -> BTreeMap<String, Value> {
    fn go(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    go(&key, v, out);
                }
            }
            // An empty top level (a baseline without parameters) holds nothing.
            Value::Object(_) if prefix.is_empty() => {}
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    go("", v, &mut out);
    out
}

/// The component's kinds only (top level and nested), as a TOML table to
/// parse for defaults.
fn skeleton(c: &Component) -> toml::Table {
    let mut t = toml::Table::new();
    if !c.kind.is_empty() {
        t.insert("kind".into(), toml::Value::String(c.kind.clone()));
    }
    for (key, v) in &c.params {
        if let (Some((outer, "kind")), Value::String(kind)) = (key.rsplit_once('.'), v) {
            let mut inner = toml::Table::new();
            inner.insert("kind".into(), toml::Value::String(kind.clone()));
            // Nested one level (the only nesting the specs have).
            t.insert(outer.to_string(), toml::Value::Table(inner));
        }
    }
    t
}

fn parse_defaults(stage: Stage, c: &Component, table: &toml::Table) -> Result<Value, KeyError> {
    match stage {
        Stage::Features => crate::dsp::FeatureSetSpec::parse(table, &[]).map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.remove("kind");
            }
            v
        }),
        Stage::Representation => {
            let group = if c.group == "baseline" {
                crate::spec::Group::Baseline
            } else {
                crate::spec::Group::Model
            };
            crate::models::parse(group, table, &[]).map(|r| r.params())
        }
        Stage::Clusterer => crate::cluster::parse(table, &[]).map(|c| c.params()),
    }
}

/// The kind's defaults (flattened), or None when they cannot be built; and
/// the keys the kind requires (which have no default).
fn defaults(stage: Stage, c: &Component) -> (Option<BTreeMap<String, Value>>, Vec<String>) {
    let mut table = skeleton(c);
    let mut required = Vec::new();
    // Each round may learn one required key from the parser's error.
    for _ in 0..4 {
        match parse_defaults(stage, c, &table) {
            Ok(v) => {
                let mut flat = flatten(&v);
                flat.remove("kind");
                return (Some(flat), required);
            }
            Err(e) => {
                let Some(key) = e.path.last().filter(|k| !table.contains_key(*k)) else {
                    break;
                };
                let Some(v) = c
                    .params
                    .get(key)
                    .and_then(|v| toml::Value::try_from(v).ok())
                else {
                    break;
                };
                required.push(key.clone());
                table.insert(key.clone(), v);
            }
        }
    }
    (None, required)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

fn table(rec: &RunRecord, stage: Stage, title: &'static str) -> ParamTable {
    let comps = components(rec, stage);
    let rows = comps
        .iter()
        .map(|c| {
            let same_kind: Vec<&Component> = comps.iter().filter(|o| o.kind == c.kind).collect();
            let (defaults, required) = defaults(stage, c);
            let settings = c
                .params
                .iter()
                .filter_map(|(k, v)| {
                    // Among the components of the kind that have the key (a
                    // key only some have is told apart by the kind itself).
                    let varies = same_kind
                        .iter()
                        .any(|o| o.params.get(k).is_some_and(|w| w != v));
                    let non_default = defaults.as_ref().is_none_or(|d| d.get(k) != Some(v));
                    // A nested kind (`lyrics.kind`) and a required key (a
                    // CVAE's `condition`) name choices: always shown.
                    let chosen = k.ends_with(".kind") || required.contains(k);
                    (varies || non_default || chosen).then(|| Setting {
                        key: k.clone(),
                        value: show(v),
                        varies,
                    })
                })
                .collect();
            ParamRow {
                name: c.name.clone(),
                kind: c.kind.clone(),
                settings,
            }
        })
        .collect();
    ParamTable {
        stage: title,
        has_kind: !matches!(stage, Stage::Features),
        rows,
    }
}

/// The three tables, in pipeline order.
pub fn tables(rec: &RunRecord) -> Vec<ParamTable> {
    vec![
        table(rec, Stage::Features, "feature sets"),
        table(rec, Stage::Representation, "representations"),
        table(rec, Stage::Clusterer, "clusterers"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(kind: &str, group: &str, params: Value) -> Component {
        Component {
            name: kind.into(),
            kind: kind.into(),
            group: group.into(),
            params: flatten(&params),
        }
    }

    #[test]
    fn a_required_key_is_taken_from_the_component_and_remembered() {
        let c = component(
            "cvae",
            "model",
            serde_json::json!({"condition": "language", "epochs": 150}),
        );
        let (defaults, required) = defaults(Stage::Representation, &c);
        let defaults = defaults.expect("cvae defaults with its condition");
        assert_eq!(required, vec!["condition".to_string()]);
        assert_eq!(defaults["condition"], "language");
        // The registry's own default, not the component's value.
        assert_ne!(defaults["epochs"], 150);
    }

    #[test]
    fn nested_kinds_get_their_own_defaults() {
        let c = Component {
            name: "audio_lyrics".into(),
            kind: String::new(),
            group: String::new(),
            params: flatten(&serde_json::json!({
                "lyrics": {"kind": "tfidf", "max_features": 300}
            })),
        };
        let (defaults, _) = defaults(Stage::Features, &c);
        let d = defaults.unwrap();
        assert_eq!(d["lyrics.kind"], "tfidf");
        assert!(
            d["lyrics.max_features"].is_null(),
            "{:?}",
            d["lyrics.max_features"]
        );
        assert_eq!(d["n_mfcc"], 20);
    }

    #[test]
    fn flatten_drops_an_empty_top_level() {
        assert!(flatten(&serde_json::json!({})).is_empty());
        assert_eq!(
            flatten(&serde_json::json!({"a": {"b": 1}, "c": [1, 2]})),
            BTreeMap::from([
                ("a.b".to_string(), serde_json::json!(1)),
                ("c".to_string(), serde_json::json!([1, 2])),
            ])
        );
    }
}
