//! End to end through the real `runner` binary on tiny built-in data.

mod common;

use std::path::Path;
use std::process::Command;

use common::{runner, text};

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let f = common::write(
        dir.path(),
        "tiny.toml",
        &common::tiny_experiment(Path::new("cache"), Path::new("reports")),
    );
    (dir, f)
}

#[test]
fn run_writes_every_result_and_a_rerun_is_cached() {
    let (dir, _) = setup();
    let o = runner(dir.path(), &["plan", "tiny.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("6 cells, 0 fully cached, 6 to compute"),
        "{}",
        text(&o)
    );

    let o = runner(dir.path(), &["run", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // stderr is not a terminal here: progress comes as plain lines, each
    // training every tenth of its epochs (15 epochs: at 2, 3, 5, ... 15).
    let log = text(&o);
    assert!(
        log.contains("features: 18 tracks to extract or load"),
        "{log}"
    );
    for epoch in [2, 3, 15] {
        assert!(
            log.contains(&format!("  mfcc/vae/seed=1: epoch {epoch}/15, loss ")),
            "{epoch}: {log}"
        );
    }
    assert!(!log.contains("epoch 1/15,"), "not every epoch: {log}");
    let report = dir.path().join("reports/tiny");
    for f in vaerun::report::FILES {
        assert!(report.join(f).is_file(), "missing {f}");
    }
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("results.json")).unwrap()).unwrap();
    let cells = rec["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6);
    for c in cells {
        assert_eq!(c["status"], "ok", "{c}");
        for m in [
            "silhouette",
            "calinski_harabasz",
            "davies_bouldin",
            "adjusted_rand",
            "nmi_arithmetic",
        ] {
            assert!(
                c["metrics"][m].as_f64().is_some_and(f64::is_finite),
                "{}: {m} = {}",
                c["cell"],
                c["metrics"][m]
            );
        }
    }
    // A 2-D projection per representation artifact (vae x 2 seeds, pca, raw),
    // one point per track, and every cell's cluster assignment.
    let projections = rec["projections"].as_object().unwrap();
    assert_eq!(projections.len(), 4);
    for p in projections.values() {
        assert_eq!(p["method"], "tsne");
        assert_eq!(p["points"].as_array().unwrap().len(), 18);
    }
    assert!(cells
        .iter()
        .all(|c| c["assignments"].as_array().unwrap().len() == 18));
    // The aggregated table: one row per configuration, mean/std/n per metric.
    let agg = std::fs::read_to_string(report.join("results_by_config.csv")).unwrap();
    assert_eq!(agg.lines().count(), 1 + 3, "{agg}");
    assert!(
        agg.lines()
            .next()
            .unwrap()
            .contains("nmi_arithmetic.mean,nmi_arithmetic.std,nmi_arithmetic.n"),
        "{agg}"
    );
    // Figures: SVG files linked from the Markdown, inlined in the HTML.
    let svgs = std::fs::read_dir(report.join("figures")).unwrap().count();
    assert_eq!(
        svgs,
        3 + 1 + 1 + 2,
        "a map per representation (vae, pca, raw), the bars, the training curves, \
         the reconstructions of the two that decode (vae, pca)"
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("](figures/map_mfcc_vae.svg)"), "{md}");
    assert!(std::fs::read_to_string(report.join("report.html"))
        .unwrap()
        .contains("<svg"));
    let csv = std::fs::read_to_string(report.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "header + one row per cell");
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("param.repr.latent_dim"));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("## Leaderboard") && md.contains("mfcc/vae/kmeans"),
        "{md}"
    );

    let o = runner(dir.path(), &["run", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("every stage came from the cache (computing them took"),
        "{}",
        text(&o)
    );
    // `report` re-renders the same files from results.json alone, by
    // experiment file or by folder, even with the cache gone.
    let read_all = || -> Vec<Vec<u8>> {
        ["report.md", "results.csv"]
            .iter()
            .map(|f| std::fs::read(report.join(f)).unwrap())
            .collect()
    };
    let before = read_all();
    std::fs::remove_file(report.join("report.md")).unwrap();
    std::fs::rename(dir.path().join("cache"), dir.path().join("cache-away")).unwrap();
    for target in ["tiny.toml", "reports/tiny"] {
        let o = runner(dir.path(), &["report", target]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(before, read_all(), "report reproduces run's files");
    }
    assert!(
        !dir.path().join("cache").exists(),
        "report computed nothing"
    );
    std::fs::rename(dir.path().join("cache-away"), dir.path().join("cache")).unwrap();
    let o = runner(dir.path(), &["report", "nowhere"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = runner(dir.path(), &["plan", "tiny.toml"]);
    assert!(
        text(&o).contains("6 cells, 6 fully cached, 0 to compute"),
        "{}",
        text(&o)
    );

    // --explain names the parameter that changed and what it invalidates.
    let o = runner(
        dir.path(),
        &[
            "plan",
            "tiny.toml",
            "--explain",
            "mfcc/vae/kmeans/seed=0",
            "--set",
            "models.vae.epochs=10",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("features: cached"), "{out}");
    assert!(
        out.contains("represent: to compute: repr.epochs changed: 15 -> 10"),
        "{out}"
    );
    assert!(
        out.contains("cluster: to compute: its input `represent` changed"),
        "{out}"
    );
    // One cell on its own (the job-array seam) prints its result as JSON.
    let o = runner(
        dir.path(),
        &["run", "tiny.toml", "--cell", "mfcc/pca/kmeans/seed=1", "-q"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let one: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(one[0]["cell"], "mfcc/pca/kmeans/seed=1");
    // An id that names no cell is a command-line error.
    let o = runner(
        dir.path(),
        &["run", "tiny.toml", "--cell", "mfcc/pca/kmeans/seed=7"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no cell `mfcc/pca/kmeans/seed=7`"),
        "{}",
        text(&o)
    );
    // Units: one representation with every clusterer on it. A deterministic
    // baseline is one unit for all seeds.
    let o = runner(dir.path(), &["plan", "tiny.toml", "--units"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    for unit in [
        "mfcc/vae/seed=0",
        "mfcc/vae/seed=1",
        "mfcc/pca ",
        "mfcc/raw ",
    ] {
        assert!(out.contains(unit), "{unit}: {out}");
    }
    assert!(out.contains("4 units, 0 to compute"), "{out}");
    let o = runner(
        dir.path(),
        &[
            "run",
            "tiny.toml",
            "--unit",
            "mfcc/pca",
            "-q",
            "--record",
            "pca.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("pca.json")).unwrap()).unwrap();
    let cells: Vec<&str> = rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cell"].as_str().unwrap())
        .collect();
    assert_eq!(cells, ["mfcc/pca/kmeans/seed=0", "mfcc/pca/kmeans/seed=1"]);
    let o = runner(
        dir.path(),
        &["run", "tiny.toml", "--unit", "mfcc/pca/seed=0"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no unit `mfcc/pca/seed=0`"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_diverging_model_fails_only_its_cells() {
    let (dir, _) = setup();
    let o = runner(
        dir.path(),
        &["run", "tiny.toml", "--set", "models.vae.lr=1e12", "-q"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAILED mfcc/vae/kmeans/seed=0"), "{out}");
    assert!(
        out.contains("training diverged") && out.contains("at epoch"),
        "{out}"
    );
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/tiny/results.json")).unwrap(),
    )
    .unwrap();
    let statuses: Vec<(&str, &str)> = rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["cell"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    for (cell, status) in statuses {
        assert_eq!(
            status,
            if cell.contains("/vae/") {
                "failed"
            } else {
                "ok"
            },
            "{cell}"
        );
    }
    // Nothing of the failed model was published to the cache.
    let o = runner(
        dir.path(),
        &["plan", "tiny.toml", "--set", "models.vae.lr=1e12"],
    );
    assert!(
        text(&o).contains("4 fully cached, 2 to compute"),
        "{}",
        text(&o)
    );
}

#[test]
fn spec_errors_exit_2_with_location() {
    let (dir, f) = setup();
    let bad = std::fs::read_to_string(&f)
        .unwrap()
        .replace("latent_dim = 4", "latent_dims = 4");
    common::write(dir.path(), "bad.toml", &bad);
    for cmd in ["validate", "run", "plan"] {
        let o = runner(dir.path(), &[cmd, "bad.toml"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        assert!(text(&o).contains("bad.toml:22: models.vae.latent_dims: unknown key `latent_dims`; did you mean `latent_dim`?"), "{}", text(&o));
    }
    let o = runner(dir.path(), &["validate", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("6 cells"), "{}", text(&o));
}

#[test]
fn synth_writes_gtzan_layout_that_folders_datasets_read() {
    let (dir, f) = setup();
    let o = runner(
        dir.path(),
        &["synth", "--out", "corpus", "--experiment", "tiny.toml"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let wav = dir.path().join("corpus/rock/rock.00005.wav");
    assert!(wav.is_file());
    let lyrics = std::fs::read_to_string(dir.path().join("corpus/rock/rock.00005.txt")).unwrap();
    assert!(!lyrics.trim().is_empty());
    // Corrupt one file: it is skipped, named, and the run goes on.
    std::fs::write(
        dir.path().join("corpus/techno/techno.00002.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunk",
    )
    .unwrap();
    let exp = std::fs::read_to_string(&f).unwrap().replace(
        "kind = \"synthetic\"\nclasses = 3\nclips_per_class = 6\nduration = 1.0\nsample_rate = 16000\noverlap = 0.0",
        "kind = \"folders\"\npath = \"corpus\"\nsample_rate = 16000",
    );
    common::write(dir.path(), "folders.toml", &exp);
    let o = runner(dir.path(), &["run", "folders.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/tiny/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["dataset"]["tracks"], 18);
    let skipped = rec["dataset"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["track"], "techno/techno.00002.wav");
    assert_eq!(rec["cells"][0]["tracks"], 17);
    let md = std::fs::read_to_string(dir.path().join("reports/tiny/report.md")).unwrap();
    assert!(
        md.contains("techno/techno.00002.wav"),
        "the report lists skipped files"
    );
    // The skipped file's failure is cached like a success: plan sees a
    // finished study, and a rerun decodes nothing (the bad file included).
    let o = runner(dir.path(), &["plan", "folders.toml"]);
    assert!(
        text(&o).contains("6 fully cached, 0 to compute"),
        "{}",
        text(&o)
    );
    let o = runner(dir.path(), &["run", "folders.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("every stage came from the cache"),
        "{}",
        text(&o)
    );
    // on_error = "fail" stops the run and names the file and the reason.
    let o = runner(
        dir.path(),
        &[
            "run",
            "folders.toml",
            "-q",
            "--set",
            "dataset.on_error=\"fail\"",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("techno.00002.wav: unsupported or corrupt audio container"),
        "{}",
        text(&o)
    );
    // Clips shorter than min_duration are dropped by default, padded on request.
    let o = runner(
        dir.path(),
        &[
            "run",
            "folders.toml",
            "-q",
            "--set",
            "dataset.min_duration=1.5",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "every cell fails: no usable track; {}",
        text(&o)
    );
    assert!(
        text(&o).contains("shorter than min_duration"),
        "{}",
        text(&o)
    );
    let o = runner(
        dir.path(),
        &[
            "run",
            "folders.toml",
            "-q",
            "--set",
            "dataset.min_duration=1.5",
            "--set",
            "dataset.short_clips=\"pad\"",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A missing dataset folder says where to put the data.
    let o = runner(
        dir.path(),
        &["run", "folders.toml", "--set", "dataset.path=nowhere"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("dataset folder nowhere does not exist"),
        "{}",
        text(&o)
    );
}

#[test]
fn two_runs_sharing_one_cache_agree() {
    let (dir, _) = setup();
    let a = Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args(["run", "tiny.toml", "-q"])
        .spawn()
        .unwrap();
    let b = Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args([
            "run",
            "tiny.toml",
            "-q",
            "--set",
            "report.out_dir=\"reports2\"",
        ])
        .spawn()
        .unwrap();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(p)).unwrap()).unwrap()
    };
    let (ra, rb) = (
        read("reports/tiny/results.json"),
        read("reports2/tiny/results.json"),
    );
    for (x, y) in ra["cells"]
        .as_array()
        .unwrap()
        .iter()
        .zip(rb["cells"].as_array().unwrap())
    {
        assert_eq!(x["metrics"], y["metrics"]);
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache/tmp"))
            .unwrap()
            .count(),
        0,
        "no temporary leftovers"
    );
}

#[test]
fn score_matches_golden_metrics_json_and_takes_string_labels() {
    let g = common::golden().join("clustering/singleton_cluster_seed11");
    let dir = tempfile::tempdir().unwrap();
    // True labels as strings: only the partition matters.
    let truth: String = std::fs::read_to_string(g.join("labels_true.csv"))
        .unwrap()
        .lines()
        .map(|l| format!("genre-{l}\n"))
        .collect();
    common::write(dir.path(), "truth.txt", &truth);
    let (x, p) = (g.join("X.csv"), g.join("labels_pred.csv"));
    let o = runner(
        dir.path(),
        &[
            "score",
            "--features",
            x.to_str().unwrap(),
            "--pred",
            p.to_str().unwrap(),
            "--truth",
            "truth.txt",
            "--out",
            "m.json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("m.json")).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(g.join("metrics.json")).unwrap()).unwrap();
    for m in vaerun::cluster::metrics::ALL_METRICS
        .iter()
        .filter(|m| **m != "accuracy")
    {
        let (a, b) = (got[*m].as_f64().unwrap(), want[*m].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-10 * b.abs().max(1e-3),
            "{m}: {a} vs {b}"
        );
    }
    // Mismatched lengths are a clear error.
    common::write(dir.path(), "short.txt", "0\n1\n");
    let o = runner(
        dir.path(),
        &[
            "score",
            "--features",
            x.to_str().unwrap(),
            "--pred",
            "short.txt",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("short.txt has 2 labels but"),
        "{}",
        text(&o)
    );
}

#[test]
fn every_clusterer_runs_from_toml_with_controls() {
    let (dir, f) = setup();
    let mut exp = std::fs::read_to_string(&f).unwrap();
    exp = exp.replace("[report]", "[clusterers.ward]\nkind = \"agglomerative\"\nlinkage = { sweep = [\"ward\", \"average\"] }\n\n[clusterers.dbscan]\nkind = \"dbscan\"\neps = 2.5\nmin_samples = 3\nstandardize = true\n\n[clusterers.gmm]\nkind = \"gmm\"\ncovariance = \"diag\"\n\n[report]\nprojection = { method = \"pca\" }");
    common::write(dir.path(), "all.toml", &exp);
    let o = runner(dir.path(), &["run", "all.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/tiny/results.json")).unwrap(),
    )
    .unwrap();
    let cells = rec["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3 * 5 * 2);
    for c in cells {
        assert_eq!(c["status"], "ok", "{c}");
        // The shuffled-label control is there for every cell, and near chance.
        let control = c["control"]["adjusted_rand"].as_f64().unwrap();
        assert!(control.abs() < 0.5, "{}: control ARI {control}", c["cell"]);
        if c["noise_fraction"].as_f64().unwrap() > 0.0 {
            assert!(c["noise_excluded"].is_object(), "{}", c["cell"]);
        }
    }
    assert!(cells
        .iter()
        .any(|c| c["cell"] == "mfcc/vae/ward[linkage=average]/seed=1"));
    assert!(cells
        .iter()
        .any(|c| c["params"]["cluster.standardize"] == true));
    let md = std::fs::read_to_string(dir.path().join("reports/tiny/report.md")).unwrap();
    assert!(md.contains("## Chance level"), "{md}");
    assert!(rec["projections"]
        .as_object()
        .unwrap()
        .values()
        .all(|p| p["method"] == "pca"));
}

#[test]
fn data_strings_are_escaped_in_reports() {
    let (dir, _) = setup();
    let o = runner(dir.path(), &["run", "tiny.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let path = dir.path().join("reports/tiny/results.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let evil = "<script>alert(1)</script>";
    rec["dataset"]["classes"][0]["name"] = serde_json::json!(evil);
    rec["cells"][0]["cell"] = serde_json::json!(format!("mfcc/{evil}|x/seed=0"));
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let o = runner(dir.path(), &["report", "reports/tiny"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(dir.path().join("reports/tiny/report.html")).unwrap();
    assert!(!html.contains(evil), "raw script in the HTML");
    assert!(
        html.contains("&lt;script&gt;alert(1)"),
        "the label is shown as text"
    );
    // The only <script> is the report's own sorting code.
    assert_eq!(html.matches("<script>").count(), 1);
    let md = std::fs::read_to_string(dir.path().join("reports/tiny/report.md")).unwrap();
    assert!(
        !md.contains(evil) && md.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\|x"),
        "{md}"
    );
}

#[test]
fn diff_compares_committed_results_across_revisions() {
    let (dir, f) = setup();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o));
    };
    git(&["init", "-q"]);
    git(&["config", "user.email", "t@example.com"]);
    git(&["config", "user.name", "t"]);
    assert_eq!(
        runner(dir.path(), &["run", "tiny.toml", "-q"])
            .status
            .code(),
        Some(0)
    );
    git(&["add", "tiny.toml", "reports"]);
    git(&["commit", "-qm", "first"]);
    // Second version: fewer VAE epochs, one seed (cells removed), one more clusterer (cells added).
    let exp = std::fs::read_to_string(&f)
        .unwrap()
        .replace("epochs = 15", "epochs = 5")
        .replace("seeds = [0, 1]", "seeds = [0]")
        .replace(
            "[report]",
            "[clusterers.ward]\nkind = \"agglomerative\"\n\n[report]",
        );
    std::fs::write(&f, exp).unwrap();
    assert_eq!(
        runner(dir.path(), &["run", "tiny.toml", "-q"])
            .status
            .code(),
        Some(0)
    );

    // HEAD against the working tree.
    let o = runner(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    // A parameter change is listed once per configuration, not per seed.
    assert!(
        out.contains("tiny  mfcc/vae/kmeans  repr.epochs  15 -> 5"),
        "{out}"
    );
    assert_eq!(out.matches("repr.epochs").count(), 1, "{out}");
    // The configuration summary comes before the cells: old mean ± std
    // over two seeds, new value over the one seed left.
    let summary = out
        .lines()
        .position(|l| l.contains("tiny  mfcc/vae/kmeans  nmi_arithmetic") && l.contains("(n=2) ->"))
        .unwrap_or_else(|| panic!("no configuration summary: {out}"));
    let cell_line = out
        .lines()
        .position(|l| l.contains("mfcc/vae/kmeans/seed=0  nmi_arithmetic"))
        .unwrap_or_else(|| panic!("no cell line: {out}"));
    assert!(summary < cell_line, "{out}");
    // --check turns differences into exit 1, for CI.
    let o = runner(dir.path(), &["diff", "--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("difference(s) between HEAD and working tree"));
    assert!(out.contains("+ mfcc/vae/ward/seed=0"), "{out}");
    assert!(out.contains("- mfcc/vae/kmeans/seed=1"), "{out}");
    assert!(
        !out.contains("mfcc/pca/kmeans/seed=0  nmi"),
        "unchanged cells are not listed: {out}"
    );

    git(&["add", "tiny.toml", "reports"]);
    git(&["commit", "-qm", "second"]);
    let o = runner(
        dir.path(),
        &[
            "diff",
            "HEAD~1",
            "HEAD",
            "--format",
            "md",
            "--experiment",
            "tiny",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = text(&o);
    assert!(
        md.contains("| configuration | metric | old | new | change |"),
        "{md}"
    );
    assert!(
        md.contains("| cell | metric | old | new | change |"),
        "{md}"
    );
    assert!(
        md.contains("| mfcc/vae/kmeans | repr.epochs | 15 | 5 |"),
        "{md}"
    );
    assert!(md.contains("- added: `mfcc/raw/ward/seed=0`"), "{md}");
    let o = runner(dir.path(), &["diff", "HEAD", "HEAD", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[0]["changed"].as_array().unwrap().len(), 0);
    let o = runner(dir.path(), &["diff", "HEAD", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no differences"));

    // --experiment reads only that experiment: another one's damaged
    // results.json is not an error.
    std::fs::create_dir_all(dir.path().join("reports/broken")).unwrap();
    std::fs::write(dir.path().join("reports/broken/results.json"), "{ not json").unwrap();
    let o = runner(dir.path(), &["diff", "--experiment", "tiny"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = runner(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("reports/broken/results.json is not a vaerun results file"));

    let o = runner(dir.path(), &["diff", "no-such-rev"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("unknown revision `no-such-rev`"),
        "{}",
        text(&o)
    );
    let outside = tempfile::tempdir().unwrap();
    let o = runner(outside.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("is not inside a git repository"),
        "{}",
        text(&o)
    );
}

#[test]
fn user_templates_replace_the_built_in_ones() {
    let (dir, _) = setup();
    std::fs::create_dir_all(dir.path().join("tpl")).unwrap();
    common::write(
        &dir.path().join("tpl"),
        "report.md",
        "custom {{ experiment }}: {{ n_cells }} cells\n",
    );
    common::write(
        &dir.path().join("tpl"),
        "report.html",
        "<p>{{ experiment }}</p>\n",
    );
    let o = runner(
        dir.path(),
        &[
            "run",
            "tiny.toml",
            "-q",
            "--set",
            "report.templates=\"tpl\"",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(dir.path().join("reports/tiny/report.md")).unwrap();
    assert_eq!(md, "custom tiny: 6 cells\n");
    // A broken template is a clear error, not a panic.
    common::write(&dir.path().join("tpl"), "report.md", "{% for %}");
    let o = runner(
        dir.path(),
        &["report", "tiny.toml", "--set", "report.templates=\"tpl\""],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("report.md template"), "{}", text(&o));
}
