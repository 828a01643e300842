//! Experiment files: valid ones load; each kind of mistake is reported with
//! the file, the line, the dotted key and what was expected.

mod common;

use vaerun::spec::Experiment;

fn load(text: &str) -> Result<Experiment, vaerun::spec::SpecError> {
    let dir = tempfile::tempdir().unwrap();
    let f = common::write(dir.path(), "exp.toml", text);
    Experiment::load(&f, &[])
}

fn err(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => {
            let s = e.to_string();
            // Strip the temporary directory from the location.
            s[s.find("exp.toml").unwrap()..].to_string()
        }
    }
}

const BASE: &str = r#"[experiment]
name = "t"

[dataset]
kind = "synthetic"

[features.mfcc]
n_mfcc = 13

[models.vae]
kind = "vae"
latent_dim = 8

[baselines.pca]
kind = "pca"

[clusterers.km]
kind = "kmeans"
k = 4
"#;

#[test]
fn the_examples_load() {
    // Every shipped example experiment is valid.
    let mut n = 0;
    for entry in std::fs::read_dir("experiments").unwrap() {
        let f = entry.unwrap().path();
        if f.extension().is_some_and(|e| e == "toml") {
            let e = Experiment::load(&f, &[]).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(!e.cells.is_empty());
            n += 1;
        }
    }
    assert!(n >= 1);
    let e = load(BASE).unwrap();
    assert_eq!(e.cells.len(), 2);
    assert_eq!(e.cells[0].id, "mfcc/vae/km/seed=0");
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let text = BASE.replace("latent_dim = 8", "latnet_dim = 8");
    assert_eq!(
        err(&text),
        "exp.toml:12: models.vae.latnet_dim: unknown key `latnet_dim`; did you mean `latent_dim`?"
    );
    let text = BASE.replace("name = \"t\"", "name = \"t\"\nsedes = [1]");
    assert_eq!(
        err(&text),
        "exp.toml:3: experiment.sedes: unknown key `sedes`; did you mean `seeds`?"
    );
}

#[test]
fn unknown_section_suggests() {
    let text = BASE.replace("[models.vae]", "[modles.vae]");
    let e = err(&text);
    assert!(
        e.starts_with("exp.toml:10: modles: unknown key `modles`; did you mean `models`?"),
        "{e}"
    );
}

#[test]
fn wrong_type_says_what_was_expected() {
    let text = BASE.replace("latent_dim = 8", "latent_dim = \"eight\"");
    assert_eq!(err(&text), "exp.toml:12: models.vae.latent_dim: expected a non-negative integer, found string \"eight\"");
    let text = BASE.replace("k = 4", "k = 1");
    assert_eq!(
        err(&text),
        "exp.toml:19: clusterers.km.k: expected at least 2 clusters, found 1"
    );
}

#[test]
fn missing_section_is_named() {
    let text = BASE.replace("[dataset]\nkind = \"synthetic\"\n", "");
    assert_eq!(err(&text), "exp.toml: missing section [dataset]");
}

#[test]
fn unknown_kind_suggests() {
    let text = BASE.replace("kind = \"vae\"", "kind = \"vea\"");
    assert_eq!(
        err(&text),
        "exp.toml:11: models.vae.kind: unknown kind `vea`; did you mean `vae`?"
    );
    let text = BASE.replace("kind = \"vae\"", "kind = \"pca\"");
    assert_eq!(
        err(&text),
        "exp.toml:11: models.vae.kind: `pca` belongs under [baselines]"
    );
}

#[test]
fn bad_sweeps_are_reported_at_their_key() {
    let text = BASE.replace("latent_dim = 8", "latent_dim = { sweep = 8 }");
    assert!(
        err(&text).starts_with("exp.toml:12: models.vae.latent_dim: `sweep` must be a list"),
        "{}",
        err(&text)
    );
    let text = BASE.replace("latent_dim = 8", "latent_dim = { sweep = [] }");
    assert!(err(&text).contains("models.vae.latent_dim: `sweep` is empty"));
    // A value inside a sweep is type-checked like any other.
    let text = BASE.replace("latent_dim = 8", "latent_dim = { sweep = [8, \"x\"] }");
    assert!(
        err(&text).contains("models.vae.latent_dim: expected a non-negative integer"),
        "{}",
        err(&text)
    );
}

#[test]
fn syntax_errors_give_line_and_column() {
    let text = BASE.replace("n_mfcc = 13", "n_mfcc = = 13");
    let e = err(&text);
    assert!(e.starts_with("exp.toml:8:"), "{e}");
    assert!(e.contains("TOML syntax error"), "{e}");
}

#[test]
fn references_and_values_are_validated() {
    let text = BASE.replace("latent_dim = 8", "latent_dim = 8\nfeatures = \"mfc\"");
    assert_eq!(err(&text), "exp.toml:13: models.vae.features: no feature set named `mfc` in [features]; did you mean `mfcc`?");
    let text = BASE.replace("name = \"t\"", "name = \"t\"\ndevice = \"gpu\"");
    assert!(err(&text).contains("experiment.device: unknown device `gpu`"));
    let text = BASE.replace("n_mfcc = 13", "n_mfcc = 13\nfeatures = [\"mfc\"]");
    assert!(
        err(&text).contains("features.mfcc.features.0: unknown value `mfc`; did you mean `mfcc`?"),
        "{}",
        err(&text)
    );
}

#[test]
fn overrides_are_applied_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let f = common::write(dir.path(), "exp.toml", BASE);
    let e = Experiment::load(
        &f,
        &[
            "models.vae.latent_dim={ sweep = [4, 8] }".into(),
            "experiment.seeds=[0, 1]".into(),
        ],
    )
    .unwrap();
    assert_eq!(e.cells.len(), 2 * 2 + 2);
    assert!(e
        .cells
        .iter()
        .any(|c| c.id == "mfcc/vae[latent_dim=4]/km/seed=1"));
    let err = Experiment::load(&f, &["models.vae.latent_dim=oops".into()])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "--set models.vae.latent_dim=oops: models.vae.latent_dim: expected a non-negative integer, found string \"oops\"");
}

#[test]
fn ids_are_stable_when_unrelated_settings_change() {
    let a = load(BASE).unwrap();
    let b = load(
        &BASE
            .replace("latent_dim = 8", "latent_dim = 8\nepochs = 3")
            .replace("n_mfcc = 13", "n_mfcc = 20"),
    )
    .unwrap();
    let ids = |e: &Experiment| e.cells.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
}

#[test]
fn a_model_pointed_at_an_unsuitable_feature_set_is_an_error() {
    let e = err(&format!(
        "{BASE}\n[models.conv]\nkind = \"conv_vae\"\nfeatures = \"mfcc\"\n"
    ));
    assert!(
        e.contains("models.conv.features")
            && e.contains("cannot take feature set `mfcc` (audio summaries)")
            && e.contains("kind = \"sequence\""),
        "{e}"
    );
    // Without a selector, an unsuitable pairing is simply not formed.
    let ok = load(&format!(
        "{BASE}\n[models.conv]\nkind = \"conv_vae\"\n[features.seq]\nkind = \"sequence\"\n"
    ))
    .unwrap();
    assert!(ok
        .cells
        .iter()
        .all(|c| c.repr.name != "conv" || c.features.name == "seq"));
}

#[test]
fn report_names_must_name_a_clusterer_and_cells() {
    let e = err(&format!(
        "{BASE}\n[report]\nprojection_clusterer = \"kmm\"\n"
    ));
    assert!(
        e.contains("report.projection_clusterer")
            && e.contains("no clusterer `kmm`")
            && e.contains("did you mean `km`?"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}\n[report]\nlisten_cells = [\"mfcc/vae/km/seed=0\", \"mfcc/pca/km/seed=9\"]\n"
    ));
    assert!(
        e.contains("report.listen_cells.1")
            && e.contains("no cell `mfcc/pca/km/seed=9`")
            && e.contains("did you mean `mfcc/pca/km/seed=0`?"),
        "{e}"
    );
    let ok = load(&format!(
        "{BASE}\n[report]\nprojection_clusterer = \"km\"\nlisten = 5\nlisten_cells = [\"mfcc/pca/km/seed=0\"]\n"
    ))
    .unwrap();
    assert_eq!(ok.report.listen, 5);
}
