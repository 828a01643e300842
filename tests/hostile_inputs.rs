//! Bad input and limits, through the real `runner` binary: every case is a
//! clear error (exit 2 for the experiment or arguments, 3 for data, naming
//! the file, row or key) or a correct result, never a silent one.

mod common;

use std::path::Path;

use common::{runner, text};

/// A fast experiment on the built-in corpus: no training (PCA), 2-D
/// projections by PCA, so a run takes about a second. `dataset` replaces
/// the [dataset] table; `extra` is appended.
fn fast(dataset: &str, extra: &str) -> String {
    format!(
        r#"[experiment]
name = "fast"
seeds = [0]
cache_dir = "cache"

[dataset]
{dataset}

[features.mfcc]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256

[baselines.pca]
kind = "pca"
n_components = 4

[clusterers.kmeans]
kind = "kmeans"
k = "labels"
n_init = 3

[report]
out_dir = "reports"
projection = {{ method = "pca" }}
{extra}"#
    )
}

const SYNTHETIC: &str = r#"kind = "synthetic"
classes = 3
clips_per_class = 6
duration = 1.0
sample_rate = 16000
overlap = 0.0"#;

fn setup(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write(dir.path(), "exp.toml", toml);
    dir
}

fn results(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("reports/fast/results.json")).unwrap()).unwrap()
}

/// Writes a small synthetic corpus in the GTZAN layout under `dir/corpus`.
fn corpus(dir: &Path) {
    let o = runner(
        dir,
        &[
            "synth",
            "--out",
            "corpus",
            "--set",
            "classes=2",
            "--set",
            "clips_per_class=4",
            "--set",
            "duration=1.0",
            "--set",
            "sample_rate=16000",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn threads_beyond_the_cores_are_capped_with_a_warning() {
    let dir = setup(&fast(SYNTHETIC, ""));
    let cores = std::thread::available_parallelism().unwrap().get();
    let o = runner(
        dir.path(),
        &["validate", "exp.toml", "--set", "experiment.threads=100000"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "warning: experiment.threads = 100000 exceeds the {cores} core(s) available; using {cores}"
        )),
        "{}",
        text(&o)
    );
    // The run uses the capped count, and says so before it starts.
    let o = runner(
        dir.path(),
        &["run", "exp.toml", "--set", "experiment.threads=100000"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("; {cores} worker thread(s);")),
        "{}",
        text(&o)
    );
}

#[test]
fn a_huge_sweep_is_refused_at_once_and_yes_lifts_the_cell_limit() {
    // 200 000 values: the pairwise duplicate check took minutes on this;
    // expanding them took gigabytes. Now the size is known before expanding.
    let values: Vec<String> = (1..=200_000).map(|i| i.to_string()).collect();
    let dir = setup(&fast(
        SYNTHETIC,
        &format!(
            "[models.vae]\nkind = \"vae\"\nepochs = 1\nlatent_dim = {{ sweep = [{}] }}\n",
            values.join(", ")
        ),
    ));
    for cmd in ["validate", "plan", "run"] {
        let started = std::time::Instant::now();
        let o = runner(dir.path(), &[cmd, "exp.toml"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        let out = text(&o);
        assert!(
            out.contains("experiment.max_cells: the grid expands to 200001 cells")
                && out.contains("more than experiment.max_cells = 10000")
                && out.contains("pass --yes"),
            "{cmd}: {out}"
        );
        // Generous for a loaded 2-core machine: the old check took minutes.
        assert!(
            started.elapsed().as_secs() < 30,
            "{cmd} took {:?}",
            started.elapsed()
        );
    }

    // A grid just over a lowered limit: refused, then allowed by --yes or a raised limit.
    let dir = setup(&fast(
        SYNTHETIC,
        "[baselines.raw]\nkind = \"raw\"\n[clusterers.agg]\nkind = \"agglomerative\"\n",
    ));
    let limit = ["--set", "experiment.max_cells=3"];
    let o = runner(dir.path(), &[&["plan", "exp.toml"][..], &limit].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the grid expands to 4 cells"),
        "{}",
        text(&o)
    );
    let o = runner(
        dir.path(),
        &[&["validate", "exp.toml", "--yes"][..], &limit].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o)
            .contains("4 cells from 2 representation fit(s) (0 trained model(s), 2 deterministic)"),
        "{}",
        text(&o)
    );
    let o = runner(
        dir.path(),
        &["validate", "exp.toml", "--set", "experiment.max_cells=4"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // `run` says how many cells and fits it is about to compute.
    let o = runner(
        dir.path(),
        &[&["run", "exp.toml", "--yes"][..], &limit].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("fast: 4 cells from 2 representation fit(s)"),
        "{}",
        text(&o)
    );
    // `report` computes nothing, so the limit does not apply to it.
    let o = runner(dir.path(), &[&["report", "exp.toml"][..], &limit].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn all_noise_scores_are_undefined_with_the_reason() {
    // eps far below any distance: every point is noise.
    let dir = setup(&fast(
        SYNTHETIC,
        "[clusterers.dbscan]\nkind = \"dbscan\"\neps = 1e-9\n",
    ));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec = results(dir.path());
    let cell = rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clusterer_kind"] == "dbscan")
        .unwrap();
    assert_eq!(cell["noise_fraction"], 1.0);
    for m in ["adjusted_rand", "nmi_arithmetic", "accuracy", "silhouette"] {
        assert!(cell["noise_excluded"][m].is_null(), "{m}: {cell}");
        assert_eq!(
            cell["undefined"][format!("noise_excluded.{m}")],
            "every point is noise: no non-noise points to score",
            "{cell}"
        );
    }
    let md = std::fs::read_to_string(dir.path().join("reports/fast/report.md")).unwrap();
    assert!(
        md.contains("noise_excluded.nmi_arithmetic is undefined (every point is noise"),
        "{md}"
    );

    // `runner score` with every prediction -1.
    common::write(dir.path(), "x.csv", "0,0\n1,0\n0,1\n5,5\n");
    common::write(dir.path(), "pred.txt", "-1\n-1\n-1\n-1\n");
    common::write(dir.path(), "truth.txt", "a\na\nb\nb\n");
    let o = runner(
        dir.path(),
        &[
            "score",
            "--features",
            "x.csv",
            "--pred",
            "pred.txt",
            "--truth",
            "truth.txt",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["noise_excluded"]["adjusted_rand"].is_null(), "{doc}");
    assert_eq!(
        doc["noise_excluded"]["undefined"]["adjusted_rand"],
        "every point is noise: no non-noise points to score"
    );
}

#[test]
fn score_rejects_non_finite_npy_features() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [("nan.npy", f64::NAN), ("inf.npy", f64::INFINITY)] {
        let mut x = ndarray::Array2::<f64>::zeros((3, 2));
        x[[1, 0]] = bad;
        ndarray_npy::write_npy(dir.path().join(name), &x).unwrap();
        common::write(dir.path(), "pred.txt", "0\n1\n1\n");
        let o = runner(
            dir.path(),
            &["score", "--features", name, "--pred", "pred.txt"],
        );
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("{name}: row 2, column 1 is {bad}")),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn truncated_wavs_are_named_and_skipped_or_fail_per_on_error() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let victim = dir.path().join("corpus/ambient/ambient.00001.wav");
    let full = std::fs::read(&victim).unwrap();
    let other = dir.path().join("corpus/rock/rock.00002.wav");
    let other_full = std::fs::read(&other).unwrap();
    // Cut at half its length, and another cut inside a sample.
    std::fs::write(&victim, &full[..full.len() / 2]).unwrap();
    std::fs::write(&other, &other_full[..other_full.len() - 1]).unwrap();
    let folders = "kind = \"folders\"\npath = \"corpus\"\nsample_rate = 16000";
    common::write(dir.path(), "exp.toml", &fast(folders, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec = results(dir.path());
    let skipped = rec["dataset"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let reason = |id: &str| {
        skipped
            .iter()
            .find(|s| s["track"] == id)
            .unwrap_or_else(|| panic!("{id} not skipped: {skipped:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("ambient/ambient.00001.wav").contains("truncated file: the header declares"));
    assert!(reason("rock/rock.00002.wav").contains("truncated file"));

    let o = runner(
        dir.path(),
        &["run", "exp.toml", "-q", "--set", "dataset.on_error=fail"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("ambient.00001.wav: truncated file"),
        "{}",
        text(&o)
    );
}

#[test]
fn dsp_parameters_are_checked_against_the_sample_rate() {
    let dir = setup(&fast(SYNTHETIC, ""));
    // Each: an override, the key it is reported at, and words of the reason.
    for (set, key, words) in [
        (
            "features.mfcc.fmin=9000",
            "features.mfcc.fmin",
            "Nyquist frequency is 8000 Hz",
        ),
        (
            "features.mfcc.fmax=9000",
            "features.mfcc.fmax",
            "above the Nyquist",
        ),
        ("features.mfcc.fmax=0", "features.mfcc.fmax", "fmin < fmax"),
        (
            "features.mfcc.top_db=-10",
            "features.mfcc.top_db",
            "must be positive",
        ),
        (
            "features.mfcc.lifter=-1",
            "features.mfcc.lifter",
            "zero (none) or positive",
        ),
        (
            "features.mfcc.n_mels=400",
            "features.mfcc.n_mels",
            "hold no FFT bin",
        ),
        (
            "features.mfcc.n_fft=1048576",
            "features.mfcc.n_fft",
            "at most 65536",
        ),
        (
            "features.mfcc.fmin=nan",
            "features.mfcc.fmin",
            "expected a finite number, found NaN",
        ),
    ] {
        let o = runner(dir.path(), &["validate", "exp.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(
            text(&o).contains(&format!("{key}: ")) && text(&o).contains(words),
            "{set}: {}",
            text(&o)
        );
    }
    // Spectral contrast's octaves must fit below Nyquist at this rate.
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            "features.mfcc.features=[\"spectral_contrast\"]",
            "--set",
            "features.mfcc.n_bands=7",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("features.mfcc.n_bands: spectral contrast"),
        "{}",
        text(&o)
    );
    // The same parameters at a rate where they make sense are fine.
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            "features.mfcc.fmin=9000",
            "--set",
            "dataset.sample_rate=44100",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // `runner features` checks against --sr.
    let o = runner(
        dir.path(),
        &[
            "features",
            "x.wav",
            "--feature",
            "mfcc",
            "--sr",
            "8000",
            "--set",
            "fmin=5000",
            "--out",
            "f.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("fmin: fmin = 5000 Hz must be below"),
        "{}",
        text(&o)
    );
}

#[test]
fn identical_feature_rows_are_a_warning_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "x.csv",
        "f0,f1,label\n1,2,a\n1,2,a\n1,2,b\n1,2,b\n",
    );
    let precomputed = "kind = \"precomputed\"\npath = \"x.csv\"";
    common::write(dir.path(), "exp.toml", &fast(precomputed, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    let rec = results(dir.path());
    let warnings = rec["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("feature set `mfcc`: all 4 tracks have identical features")),
        "{}: {warnings:?}",
        text(&o)
    );
    let md = std::fs::read_to_string(dir.path().join("reports/fast/report.md")).unwrap();
    assert!(md.contains("all 4 tracks have identical features"), "{md}");
}

#[test]
fn duplicate_seeds_are_an_error() {
    let dir = setup(&fast(SYNTHETIC, ""));
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            "experiment.seeds=[1, 2, 1]",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("experiment.seeds: seed 1 is listed twice (entries 0 and 2)"),
        "{}",
        text(&o)
    );
}

#[test]
fn unlabelled_manifest_rows_are_clustered_and_left_out_of_external_metrics() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let mut csv = String::from("path,label\n");
    for (i, class) in ["ambient", "rock"].iter().enumerate() {
        for k in 0..4 {
            // One row of each class without a label (and one blank).
            let label = match (i, k) {
                (0, 3) => "",
                (1, 3) => "  ",
                _ => class,
            };
            csv.push_str(&format!("corpus/{class}/{class}.0000{k}.wav,{label}\n"));
        }
    }
    common::write(dir.path(), "songs.csv", &csv);
    let manifest = "kind = \"manifest\"\npath = \"songs.csv\"\nsample_rate = 16000";
    common::write(dir.path(), "exp.toml", &fast(manifest, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec = results(dir.path());
    let cell = &rec["cells"][0];
    assert_eq!(cell["status"], "ok", "{cell}");
    assert_eq!(cell["tracks"], 8, "every track is clustered");
    assert_eq!(
        cell["clusters"], 2,
        "k = labels counts the labelled classes"
    );
    let assignments: Vec<i64> = cell["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    // The external metrics are those of the six labelled tracks alone.
    let labelled: Vec<usize> = vec![0, 1, 2, 4, 5, 6];
    let truth: Vec<usize> = vec![0, 0, 0, 1, 1, 1];
    let pred: Vec<i64> = labelled.iter().map(|&i| assignments[i]).collect();
    let x = ndarray::Array2::<f64>::zeros((6, 1));
    let want = vaerun::cluster::metrics::score_all(
        x.view(),
        &pred,
        Some(&truth),
        &["nmi_arithmetic".to_string(), "adjusted_rand".to_string()],
    );
    for (m, s) in want {
        assert_eq!(cell["metrics"][&m].as_f64(), s.value, "{m}");
    }
    assert!(cell["metrics"]["silhouette"].as_f64().is_some());
    let md = std::fs::read_to_string(dir.path().join("reports/fast/report.md")).unwrap();
    assert!(
        md.contains("| (no label: clustered, left out of the external metrics) | 2 |"),
        "{md}"
    );
}

#[test]
fn the_same_file_twice_in_a_manifest_is_found_by_its_canonical_path() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let abs = dir.path().join("corpus/rock/rock.00001.wav");
    for second in [
        "./corpus/rock/rock.00001.wav".to_string(),
        "corpus/ambient/../rock/rock.00001.wav".to_string(),
        abs.display().to_string(),
    ] {
        common::write(
            dir.path(),
            "songs.csv",
            &format!("path,label\ncorpus/rock/rock.00001.wav,rock\ncorpus/rock/rock.00002.wav,rock\n{second},rock\n"),
        );
        let manifest = "kind = \"manifest\"\npath = \"songs.csv\"\nsample_rate = 16000";
        common::write(dir.path(), "exp.toml", &fast(manifest, ""));
        let o = runner(dir.path(), &["plan", "exp.toml"]);
        assert_eq!(o.status.code(), Some(3), "{second}: {}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "songs.csv:4: duplicated path `{second}`: the same file as `corpus/rock/rock.00001.wav` on line 2"
            )),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn empty_and_nul_paths_and_names_are_errors() {
    let dir = setup(&fast(SYNTHETIC, ""));
    for (set, key) in [
        (
            "experiment.cache_dir=\"\"",
            "experiment.cache_dir: is empty",
        ),
        ("report.out_dir=\"\"", "report.out_dir: is empty"),
        (
            "experiment.name=\"a\\u0000b\"",
            "experiment.name: must be a plain folder name",
        ),
        (
            "experiment.name=\"a\\nb\"",
            "experiment.name: must be a plain folder name",
        ),
    ] {
        let o = runner(dir.path(), &["validate", "exp.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(key), "{set}: {}", text(&o));
    }
    let long = "n".repeat(300);
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            &format!("experiment.name={long}"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is 300 bytes long"), "{}", text(&o));
    assert!(!dir.path().join("cache").exists(), "nothing was computed");
}

#[cfg(unix)]
#[test]
fn a_report_folder_is_written_all_new_or_all_old() {
    let dir = setup(&fast(SYNTHETIC, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = dir.path().join("reports/fast");
    let snapshot = || -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for sub in ["", "figures"] {
            for e in std::fs::read_dir(report.join(sub)).unwrap().flatten() {
                if e.path().is_file() {
                    let name = format!("{sub}/{}", e.file_name().to_string_lossy());
                    files.push((name, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    // A new title would change report.md and report.html.
    let json = std::fs::read_to_string(report.join("results.json")).unwrap();
    let json = json.replacen("\"title\": null", "\"title\": \"A new title\"", 1);
    std::fs::write(report.join("results.json"), &json).unwrap();
    let before = snapshot();
    // A full disk: files may grow to 16 KB only (the shell's ulimit -f is
    // in KB), and SIGXFSZ is ignored so a write past it fails with EFBIG.
    let o = std::process::Command::new("bash")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 16; exec {} report reports/fast",
            env!("CARGO_BIN_EXE_runner")
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("cannot write"), "{}", text(&o));
    assert_eq!(before, snapshot(), "a failed write changed or left files");
    // With room, the whole set is new.
    let o = runner(dir.path(), &["report", "reports/fast"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(std::fs::read_to_string(report.join("report.md"))
        .unwrap()
        .contains("A new title"));
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names_get_distinct_track_ids() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    // Two names that differ only in bytes that are not UTF-8.
    let rock = dir.path().join("corpus/rock");
    for (i, name) in [&b"caf\xe9.wav"[..], &b"caf\xe8.wav"[..]]
        .iter()
        .enumerate()
    {
        std::fs::copy(
            rock.join(format!("rock.0000{i}.wav")),
            rock.join(OsStr::from_bytes(name)),
        )
        .unwrap();
    }
    let folders = "kind = \"folders\"\npath = \"corpus\"\nsample_rate = 16000";
    common::write(dir.path(), "exp.toml", &fast(folders, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec = results(dir.path());
    let ids: Vec<&str> = rec["dataset"]["track_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ids.contains(&"rock/caf\\xE9.wav"), "{ids:?}");
    assert!(ids.contains(&"rock/caf\\xE8.wav"), "{ids:?}");
    assert_eq!(rec["dataset"]["tracks"], 10);
}

#[test]
fn an_experiment_can_be_read_from_standard_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    for arg in ["-", "/dev/stdin"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .current_dir(dir.path())
            .args(["validate", arg])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(fast(SYNTHETIC, "").as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{arg}: {}", text(&o));
        assert!(text(&o).contains("experiment `fast`"), "{}", text(&o));
    }
}

#[test]
fn an_unknown_cell_is_a_bad_argument() {
    // `run --cell` is also in tests/cli.rs; `plan --explain` takes a cell too.
    let dir = setup(&fast(SYNTHETIC, ""));
    for args in [
        &["run", "exp.toml", "--cell", "mfcc/pca/kmeans/seed=9"][..],
        &["plan", "exp.toml", "--explain", "mfcc/pca/kmeans/seed=9"][..],
    ] {
        let o = runner(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("no cell `mfcc/pca/kmeans/seed=9`")
                && text(&o).contains("did you mean `mfcc/pca/kmeans/seed=0`?"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn model_key_hints_list_the_keys_of_that_kind() {
    let dir = setup(&fast(
        SYNTHETIC,
        "[models.vae]\nkind = \"vae\"\nepochs = 1\n",
    ));
    for (set, want) in [
        ("models.vae.epocs=3", "models.vae.epocs: unknown key `epocs`; did you mean `epochs`?"),
        ("models.vae.lrr=0.1", "models.vae.lrr: unknown key `lrr`; did you mean `lr`?"),
        (
            "models.vae.beta=4.0",
            "models.vae.beta: `beta` is not a parameter of kind `vae`; it belongs to `beta_vae`, `cvae`, `hybrid_vae`",
        ),
        (
            "models.vae.condition=\"label\"",
            "models.vae.condition: `condition` is not a parameter of kind `vae`; it belongs to `cvae`",
        ),
        ("clusterers.kmeans.standardise=true", "did you mean `standardize`?"),
    ] {
        let o = runner(dir.path(), &["validate", "exp.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(want), "{set}: {}", text(&o));
    }
    // An unrelated word lists exactly the keys a `vae` takes.
    let o = runner(
        dir.path(),
        &["validate", "exp.toml", "--set", "models.vae.qqqqqqqq=1"],
    );
    let out = text(&o);
    let listed = out
        .split("kind `vae` takes: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    for k in ["epochs", "lr", "latent_dim", "kl_warmup", "features"] {
        assert!(listed.contains(k), "{k}: {out}");
    }
    for k in ["beta", "condition", "capacity_max"] {
        assert!(!listed.split(", ").any(|x| x.trim() == k), "{k}: {out}");
    }
}

#[test]
fn report_warns_about_results_from_a_newer_vaerun() {
    let dir = setup(&fast(SYNTHETIC, ""));
    let o = runner(dir.path(), &["run", "exp.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let path = dir.path().join("reports/fast/results.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    rec["vaerun_version"] = "99.0.0".into();
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let o = runner(dir.path(), &["report", "reports/fast"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o)
            .contains("warning: results.json was written by vaerun 99.0.0, newer than this vaerun"),
        "{}",
        text(&o)
    );
    let md = std::fs::read_to_string(dir.path().join("reports/fast/report.md")).unwrap();
    assert!(md.contains("written by vaerun 99.0.0"), "{md}");
}

#[test]
fn other_values_without_bounds_are_errors_before_any_work() {
    let dir = setup(&fast(
        SYNTHETIC,
        "[models.vae]\nkind = \"vae\"\nepochs = 1\n",
    ));
    for (set, want) in [
        (
            "models.vae.latent_dim=1000000000",
            "models.vae.latent_dim: must be at most 65536",
        ),
        (
            "models.vae.hidden=[4000000000]",
            "models.vae.hidden: layer widths must be at most 65536",
        ),
        (
            "models.vae.lr=inf",
            "models.vae.lr: expected a finite number, found inf",
        ),
        (
            "clusterers.kmeans.tol=nan",
            "clusterers.kmeans.tol: expected a finite number",
        ),
        (
            "dataset.clips_per_class=100000000",
            "dataset.clips_per_class: must be at most 100000",
        ),
        (
            "report.projection={ method = \"tsne\", perplexity = -5 }",
            "report.projection.perplexity: must be a positive number",
        ),
        (
            "report.projection={ method = \"tsne\", theta = 2 }",
            "report.projection.theta: must be between 0 (exact) and 1",
        ),
        (
            "report.projection={ method = \"tsne\", iterations = 10 }",
            "report.projection.iterations: must be at least 250",
        ),
        (
            "experiment.max_cells=0",
            "experiment.max_cells: must be at least 1",
        ),
        // The same families in windows, automatic k, UMAP and SLURM settings.
        (
            "features.mfcc.segment={ seconds = 0.0 }",
            "features.mfcc.segment.seconds: must be a positive number of seconds",
        ),
        (
            "features.mfcc.segment={ seconds = nan }",
            "features.mfcc.segment.seconds: expected a finite number",
        ),
        (
            "clusterers.kmeans.k={ auto = [8, 2] }",
            "the largest k must be at least the smallest",
        ),
        (
            "report.projection={ method = \"umap\", n_neighbors = 1 }",
            "report.projection.n_neighbors: must be at least 2",
        ),
        (
            "executor.slurm.partition=\"a\\nb\"",
            "executor.slurm.partition: `a\\nb` is not a SLURM name",
        ),
    ] {
        let o = runner(dir.path(), &["validate", "exp.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(want), "{set}: {}", text(&o));
    }
    // A sequence too long for memory is named at `frames`.
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            "features.mfcc.kind=\"sequence\"",
            "--set",
            "features.mfcc.frames=100000000",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("features.mfcc.frames: this feature set gives"),
        "{}",
        text(&o)
    );
}

#[test]
fn section_names_cannot_make_two_cells_one_id() {
    // Without the rule, features "a/b" × model "c" and features "a" × model
    // "b/c" would both be cell a/b/c/kmeans/seed=0.
    let dir = setup(&fast(SYNTHETIC, "[features.\"mfcc/x\"]\nn_mfcc = 13\n"));
    let o = runner(dir.path(), &["validate", "exp.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("features.mfcc/x: `mfcc/x` cannot name a section"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_short_clip_window_and_bad_sweep_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let folders = "kind = \"folders\"\npath = \"corpus\"\nduration = 10.0\nmin_duration = 20.0";
    common::write(dir.path(), "exp.toml", &fast(folders, ""));
    let o = runner(dir.path(), &["validate", "exp.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("dataset.min_duration: min_duration = 20 s is longer than duration = 10 s: every clip would be dropped"),
        "{}",
        text(&o)
    );
    // Two sweep values that would give one cell id.
    let dir = setup(&fast(SYNTHETIC, ""));
    let o = runner(
        dir.path(),
        &[
            "validate",
            "exp.toml",
            "--set",
            "clusterers.kmeans.k={ sweep = [2, \"2\"] }",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("clusterers.kmeans.k: `sweep` lists 2 twice"),
        "{}",
        text(&o)
    );
}

#[test]
fn repeated_or_empty_lists_are_errors() {
    let dir = setup(&fast(SYNTHETIC, ""));
    for (set, want) in [
        (
            "baselines.pca.features=[]",
            "baselines.pca.features: lists no feature set",
        ),
        (
            "baselines.pca.features=[\"mfcc\", \"mfcc\"]",
            "baselines.pca.features: `mfcc` is listed twice",
        ),
        (
            "features.mfcc.features=[\"mfcc\", \"rms\", \"mfcc\"]",
            "features.mfcc.features: `mfcc` is listed twice",
        ),
        (
            "features.mfcc.stats=[\"mean\", \"mean\"]",
            "features.mfcc.stats: `mean` is listed twice",
        ),
        (
            "metrics.include=[]",
            "metrics.include: list at least one metric",
        ),
        (
            "metrics.include=[\"purity\", \"purity\"]",
            "metrics.include.1: `purity` is listed twice",
        ),
        (
            "report.sort_by=\"purity\"",
            "report.sort_by: `purity` is not computed",
        ),
    ] {
        let extra = if set.starts_with("report.sort_by") {
            vec!["--set", "metrics.include=[\"silhouette\"]"]
        } else {
            vec![]
        };
        let o = runner(
            dir.path(),
            &[&["validate", "exp.toml", "--set", set][..], &extra].concat(),
        );
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(want), "{set}: {}", text(&o));
    }
}

#[test]
fn report_settings_that_would_fail_after_computing_fail_first() {
    let dir = setup(&fast(SYNTHETIC, ""));
    std::fs::create_dir(dir.path().join("tpl")).unwrap();
    common::write(&dir.path().join("tpl"), "report.md", "{{ broken");
    common::write(&dir.path().join("tpl"), "report.html", "<p>{{ title }}</p>");
    for (templates, want) in [
        ("nowhere", "report.templates: cannot read nowhere/report.md"),
        ("tpl", "report.templates: report.md template:"),
    ] {
        for cmd in ["validate", "run"] {
            let o = runner(
                dir.path(),
                &[
                    cmd,
                    "exp.toml",
                    "--set",
                    &format!("report.templates=\"{templates}\""),
                ],
            );
            assert_eq!(o.status.code(), Some(2), "{cmd} {templates}: {}", text(&o));
            assert!(text(&o).contains(want), "{cmd} {templates}: {}", text(&o));
        }
    }
    // A report folder that cannot be made (out_dir is a file): exit 3 at once.
    common::write(dir.path(), "afile", "");
    let o = runner(
        dir.path(),
        &["run", "exp.toml", "--set", "report.out_dir=\"afile\""],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("cannot create the report folder afile/fast"),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("cache").exists(), "nothing was computed");
    // `runner features` with an impossible rate.
    let o = runner(
        dir.path(),
        &[
            "features",
            "x.wav",
            "--feature",
            "mfcc",
            "--sr",
            "0",
            "--out",
            "f.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--sr 0: expected a sample rate between 1000 and 384000 Hz"),
        "{}",
        text(&o)
    );
}

#[test]
fn each_clusterer_and_lyrics_bound_is_named_at_its_own_key() {
    let dir = setup(&fast(SYNTHETIC, "[clusterers.gmm]\nkind = \"gmm\"\n"));
    for (set, want) in [
        (
            "clusterers.gmm.tol=0",
            "clusterers.gmm.tol: must be positive",
        ),
        (
            "clusterers.gmm.reg_covar=-1",
            "clusterers.gmm.reg_covar: must be zero or positive",
        ),
        (
            "features.mfcc.lyrics={ kind = \"embedding\", model = \"m\", batch_size = 0 }",
            "features.mfcc.lyrics.batch_size: must be at least 1",
        ),
        (
            "features.mfcc.lyrics={ kind = \"embedding\", model = \"m\", max_length = 0 }",
            "features.mfcc.lyrics.max_length: must be at least 1",
        ),
    ] {
        let o = runner(dir.path(), &["validate", "exp.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(want), "{set}: {}", text(&o));
    }
}
