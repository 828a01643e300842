//! `runner schema`: the experiment file's JSON Schema. Every shipped
//! experiment validates against it (with a real draft-7 validator, boon),
//! and what validation rejects by name (a misspelt key, a key another kind
//! takes, a value outside an enum) the schema rejects too.

mod common;

use std::path::Path;

use common::{runner, text};

/// The schema as `runner schema` prints it.
fn schema() -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let o = runner(dir.path(), &["schema"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A compiled validator for the schema.
struct Checker {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Checker {
    fn new() -> Checker {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource("vaerun.schema.json", schema())
            .unwrap();
        let index = compiler
            .compile("vaerun.schema.json", &mut schemas)
            .unwrap_or_else(|e| panic!("the schema is not a valid JSON Schema: {e:#}"));
        Checker { schemas, index }
    }

    /// Ok, or the validator's error listing (with the instance locations).
    fn check(&self, toml_text: &str) -> Result<(), String> {
        let value: toml::Value = toml_text.parse().unwrap();
        let json = serde_json::to_value(value).unwrap();
        self.schemas
            .validate(&json, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}

#[test]
fn every_shipped_experiment_validates() {
    let checker = Checker::new();
    let mut n = 0;
    for entry in std::fs::read_dir("experiments").unwrap() {
        let f = entry.unwrap().path();
        if f.extension().is_some_and(|e| e == "toml") {
            let body = std::fs::read_to_string(&f).unwrap();
            checker
                .check(&body)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "found {n} experiments");
}

const BASE: &str = r#"[experiment]
name = "t"
seeds = [0, 1]

[dataset]
kind = "synthetic"

[features.mfcc]
n_mfcc = 13
n_fft = { sweep = [1024, 2048] }

[models.vae]
kind = "vae"
latent_dim = { sweep = [8, 16] }
hidden = [64, 32]
epochs = 5

[baselines.pca]
kind = "pca"

[clusterers.km]
kind = "kmeans"
k = "labels"
standardize = true
"#;

#[test]
fn misspelt_and_misplaced_keys_are_flagged_where_validate_flags_them() {
    let checker = Checker::new();
    checker.check(BASE).unwrap();
    // Each: a change to BASE, and the instance location the schema names.
    for (from, to, at) in [
        ("latent_dim = {", "latnet_dim = {", "/models/vae"),
        ("epochs = 5", "epochs = 5\nbeta = 4.0", "/models/vae"),
        ("n_mfcc = 13", "n_mfc = 13", "/features/mfcc"),
        ("seeds = [0, 1]", "sedes = [0, 1]", "/experiment"),
        ("k = \"labels\"", "k = \"lables\"", "/clusterers/km"),
        ("k = \"labels\"", "k = 1", "/clusterers/km"),
        ("kind = \"pca\"", "kind = \"pcaa\"", "/baselines/pca"),
        ("kind = \"vae\"", "kind = \"pca\"", "/models/vae"),
        ("hidden = [64, 32]", "hidden = 64", "/models/vae"),
        (
            "n_fft = { sweep = [1024, 2048] }",
            "n_fft = { sweep = [1024], step = 2 }",
            "/features/mfcc",
        ),
        (
            "n_mfcc = 13",
            "n_mfcc = 13\nsegment = { seconds = 3.0, hopp = 1.5 }",
            "/features/mfcc",
        ),
        (
            "n_mfcc = 13",
            "n_mfcc = 13\npool = [\"median\"]",
            "/features/mfcc",
        ),
        (
            "k = \"labels\"",
            "k = { auto = [2, 8], by = \"elbow\" }",
            "/clusterers/km",
        ),
        (
            "standardize = true",
            "standardize = true\n[executor.slurm]\npartiton = \"gpu\"",
            "/executor",
        ),
    ] {
        assert!(BASE.contains(from), "{from}");
        let bad = BASE.replacen(from, to, 1);
        let e = checker
            .check(&bad)
            .expect_err(&format!("the schema accepts {to:?}"));
        assert!(e.contains(at), "{to}: {e}");
        // validate rejects each of them too.
        let dir = tempfile::tempdir().unwrap();
        common::write(dir.path(), "exp.toml", &bad);
        let o = runner(dir.path(), &["validate", "exp.toml"]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "validate accepts {to:?}: {}",
            text(&o)
        );
    }
}

/// The keys main grew after the schema was first written (windows,
/// automatic k, UMAP, SLURM settings) are in it, not flagged as unknown.
#[test]
fn windows_auto_k_umap_and_slurm_settings_validate() {
    let checker = Checker::new();
    let spec = BASE
        .replacen(
            "n_mfcc = 13",
            "n_mfcc = 13\nsegment = { seconds = 3.0, hop = 1.5 }\npool = [\"mean\", \"max\"]",
            1,
        )
        .replacen(
            "k = \"labels\"",
            "k = { auto = [2, 8], by = \"calinski_harabasz\" }",
            1,
        )
        + "\n[report]\nprojection = { method = \"umap\", n_neighbors = 10, min_dist = 0.2 }\n\
           \n[executor.slurm]\npartition = \"gpu\"\ntime = \"2:00:00\"\ngpus = 1\nsetup = [\"module load cuda\"]\n";
    checker.check(&spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write(dir.path(), "exp.toml", &spec);
    let o = runner(dir.path(), &["validate", "exp.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn keys_carry_types_defaults_allowed_values_and_descriptions() {
    let s = schema();
    let vae = s["properties"]["models"]["additionalProperties"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["properties"]["kind"]["enum"][0] == "vae")
        .expect("a vae branch")
        .clone();
    let latent = &vae["properties"]["latent_dim"];
    assert_eq!(latent["default"], 16, "{latent}");
    assert!(
        latent["description"].as_str().unwrap().contains("latent"),
        "{latent}"
    );
    let act = &vae["properties"]["activation"];
    assert_eq!(act["default"], "relu", "{act}");
    let lr = &vae["properties"]["lr"];
    assert_eq!(
        lr["default"], 0.001,
        "training keys are part of a model's schema: {lr}"
    );
    assert!(vae["properties"].get("beta").is_none());
    // Every key of every section has a one-line description.
    fn walk(v: &serde_json::Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    missing.push(format!("{at}/{k}"));
                }
                walk(p, &format!("{at}/{k}"), missing);
            }
        }
        for key in ["oneOf", "anyOf", "items", "additionalProperties"] {
            match v.get(key) {
                Some(serde_json::Value::Array(a)) => {
                    a.iter().for_each(|b| walk(b, at, missing));
                }
                Some(o @ serde_json::Value::Object(_)) => walk(o, at, missing),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    walk(&s, "", &mut missing);
    missing.retain(|m| !m.ends_with("/sweep"));
    assert!(
        missing.is_empty(),
        "keys without a description: {missing:?}"
    );
}

#[test]
fn the_committed_schema_is_the_current_one() {
    // experiments/vaerun.schema.json is what the shipped files' #:schema
    // directive points editors at; it must be what `runner schema` prints.
    let committed = Path::new("experiments/vaerun.schema.json");
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(committed).unwrap()).unwrap();
    assert_eq!(
        got,
        schema(),
        "regenerate it: cargo run --release -- schema > experiments/vaerun.schema.json"
    );
}
