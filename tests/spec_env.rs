//! Environment overrides. In a test binary of its own: environment
//! variables are process-wide, and other tests loading experiments in
//! parallel would read them.

mod common;

use vaerun::spec::Experiment;

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
fn environment_overrides_need_a_section_separator() {
    let dir = tempfile::tempdir().unwrap();
    let f = common::write(dir.path(), "exp.toml", BASE);
    // SAFETY: the only test in this binary, so nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("RUNNER_CLUSTERERS__KM__N_INIT", "3");
        std::env::set_var("RUNNER_OS", "Linux"); // set by CI systems; must be ignored
    }
    let e = Experiment::load(&f, &[]).unwrap();
    assert_eq!(e.clusterers[0].clusterer.params()["n_init"], 3);
    unsafe { std::env::set_var("RUNNER_CLUSTERERS__KM__N_INIT", "x") };
    let err = Experiment::load(&f, &[]).unwrap_err().to_string();
    unsafe {
        std::env::remove_var("RUNNER_CLUSTERERS__KM__N_INIT");
        std::env::remove_var("RUNNER_OS");
    }
    assert!(
        err.starts_with("environment RUNNER_CLUSTERERS__KM__N_INIT=x: clusterers.km.n_init"),
        "{err}"
    );
}
