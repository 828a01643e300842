//! Listening and the report in a browser, end to end: `runner run` on the
//! built-in corpus writes clips of the tracks nearest each cluster's centre
//! into `reports/<name>/audio/` and gives each an `<audio>` player; headless
//! Chromium (Debian's `chromium` package) loads the report and the test
//! reads back what it laid out: every figure drawn at a real size, the
//! legends, and players whose clips the browser decodes.
//!
//! The browser test is skipped, saying so, only when /usr/bin/chromium is
//! absent (`apt-get install chromium`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{runner, text, write};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A tiny study: 3 classes × 6 one-second clips; a VAE and PCA; K-Means
/// and GMM; one seed; two tracks per cluster, and one more cell listed.
fn experiment(cache: &Path, reports: &Path) -> String {
    format!(
        r#"[experiment]
name = "listen"
seeds = [0]
cache_dir = "{cache}"

[dataset]
kind = "synthetic"
classes = 3
clips_per_class = 6
duration = 1.0
sample_rate = 16000
overlap = 0.0

[features.mfcc]
n_mfcc = 13
n_mels = 40
n_fft = 1024
hop_length = 256

[models.vae]
kind = "vae"
latent_dim = 4
hidden = [16]
epochs = 15
batch_size = 8

[baselines.pca]
kind = "pca"
n_components = 4

[clusterers.kmeans]
kind = "kmeans"
k = "labels"
n_init = 3

[clusterers.gmm]
kind = "gmm"
k = "labels"

[report]
out_dir = "{reports}"
listen = 2
listen_cells = ["mfcc/vae/gmm/seed=0"]
"#,
        cache = cache.display(),
        reports = reports.display()
    )
}

/// Runs the study in a fresh folder; returns (that folder, the report folder).
fn run_study() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (cache, reports) = (dir.path().join("cache"), dir.path().join("reports"));
    let exp = write(dir.path(), "listen.toml", &experiment(&cache, &reports));
    let out = runner(dir.path(), &["run", exp.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = reports.join("listen");
    (dir, report)
}

fn audio_srcs(html: &str) -> Vec<String> {
    html.split("<audio ")
        .skip(1)
        .map(|a| {
            let src = a.split("src=\"").nth(1).unwrap();
            src[..src.find('"').unwrap()].replace("&#x2F;", "/")
        })
        .collect()
}

#[test]
fn clips_are_written_linked_kept_and_replaced_by_paths_when_gone() {
    let (dir, report) = run_study();
    let rec = vaerun::report::load(&report).unwrap();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let srcs = audio_srcs(&html);
    // The leading cell and the asked-for cell: 3 clusters each (k = labels),
    // two tracks per cluster (every cluster of 6 tracks has two).
    assert_eq!(srcs.len(), 2 * 3 * 2, "{srcs:?}");
    for src in &srcs {
        assert!(src.starts_with("audio/") && src.ends_with(".wav"), "{src}");
        let clip = hound::WavReader::open(report.join(src)).unwrap();
        let spec = clip.spec();
        assert_eq!((spec.channels, spec.sample_rate), (1, 16000));
        // The corpus's one-second clips are copied whole (clips stop at 5 s).
        assert_eq!(clip.duration(), 16000, "{src}");
        assert!(
            md.contains(&format!("]({src})")),
            "{src} not linked in report.md"
        );
    }
    // Each listed track is among its cluster's members, nearest first as
    // the record says.
    let lead = rec
        .cells
        .iter()
        .find(|c| html.contains(&format!("{} <span class=\"tag\">", c.cell)))
        .expect("the leading cell is marked");
    for (cluster, rows) in &lead.exemplars {
        assert_eq!(rows.len(), 2);
        for &r in rows {
            assert_eq!(lead.assignments[r], *cluster);
        }
    }

    // Without the corpus (cache deleted), re-rendering keeps the clips it
    // wrote: the same report.
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    let rerender = || {
        let out = runner(dir.path(), &["report", report.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read_to_string(report.join("report.html")).unwrap()
    };
    assert_eq!(rerender(), html);
    // With the clips gone too, paths replace the players.
    std::fs::remove_dir_all(report.join("audio")).unwrap();
    let html = rerender();
    assert!(!html.contains("<audio"));
    assert_eq!(html.matches("audio not found").count(), 2 * 3 * 2);
    assert!(!report.join("audio").exists());
}

/// Writes `samples` as a Sun `.au` file (16-bit linear PCM, big-endian), the
/// format GTZAN ships and browsers do not play.
fn write_au(path: &Path, samples: &[i16], rate: u32) {
    let mut b = Vec::new();
    for word in [0x2e73_6e64u32, 24, samples.len() as u32 * 2, 3, rate, 1] {
        b.extend_from_slice(&word.to_be_bytes());
    }
    for s in samples {
        b.extend_from_slice(&s.to_be_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn file_datasets_are_played_where_they_are_and_au_files_as_clips() {
    let dir = tempfile::tempdir().unwrap();
    let out = runner(
        dir.path(),
        &[
            "synth",
            "--out",
            "data",
            "--set",
            "classes=3",
            "--set",
            "clips_per_class=6",
            "--set",
            "duration=1.0",
            "--set",
            "sample_rate=16000",
            "--set",
            "overlap=0.0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // Every other clip becomes an .au file.
    for class in std::fs::read_dir(dir.path().join("data")).unwrap() {
        for f in std::fs::read_dir(class.unwrap().path()).unwrap() {
            let f = f.unwrap().path();
            let odd = f.to_string_lossy().ends_with("1.wav")
                || f.to_string_lossy().ends_with("3.wav")
                || f.to_string_lossy().ends_with("5.wav");
            if odd {
                let mut r = hound::WavReader::open(&f).unwrap();
                let rate = r.spec().sample_rate;
                let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
                write_au(&f.with_extension("au"), &samples, rate);
                std::fs::remove_file(&f).unwrap();
            }
        }
    }
    let exp = experiment(Path::new("cache"), Path::new("reports"))
        .replace("name = \"listen\"", "name = \"files\"")
        .replace(
            "kind = \"synthetic\"\nclasses = 3\nclips_per_class = 6\nduration = 1.0\nsample_rate = 16000\noverlap = 0.0",
            "kind = \"folders\"\npath = \"data\"\nsample_rate = 16000",
        );
    assert!(exp.contains("kind = \"folders\""));
    let exp = write(dir.path(), "files.toml", &exp);
    let out = runner(dir.path(), &["run", exp.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = dir.path().join("reports/files");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let srcs = audio_srcs(&html);
    assert_eq!(srcs.len(), 2 * 3 * 2, "{srcs:?}");
    let (mut linked, mut clips) = (0, std::collections::BTreeSet::new());
    for src in &srcs {
        // Every player opens a file that exists, relative to the report.
        assert!(report.join(src).is_file(), "{src}");
        if let Some(rest) = src.strip_prefix("../../data/") {
            assert!(rest.ends_with(".wav"), "{src}");
            linked += 1;
        } else {
            assert!(src.starts_with("audio/") && src.ends_with(".wav"), "{src}");
            clips.insert(src.clone());
        }
    }
    // Which tracks are listed is fixed by the seeds: both kinds occur.
    assert!(linked > 0 && !clips.is_empty(), "{srcs:?}");
    assert_eq!(
        std::fs::read_dir(report.join("audio")).unwrap().count(),
        clips.len(),
        "one clip per .au track listed (a track listed twice shares its clip)"
    );
}

/// A copy of the report with a script that records, once the page and its
/// media have loaded, what the browser laid out.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  var out = {figures: [], audio: [], legends: []};
  document.querySelectorAll('figure svg').forEach(function (s) {
    var r = s.getBoundingClientRect();
    out.figures.push({w: r.width, h: r.height,
      marks: s.querySelectorAll('circle,rect,polyline,path,line').length,
      texts: Array.prototype.map.call(s.querySelectorAll('text'), function (t) { return t.textContent; })});
  });
  var players = document.querySelectorAll('audio'), pending = players.length;
  function done() {
    var pre = document.createElement('pre'); pre.id = 'probe';
    pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  }
  players.forEach(function (a, i) {
    var r = a.getBoundingClientRect(); out.audio.push({w: r.width, h: r.height, duration: null});
    a.addEventListener('loadedmetadata', function () { out.audio[i].duration = a.duration; if (--pending === 0) done(); });
    a.addEventListener('error', function () { out.audio[i].duration = -1; if (--pending === 0) done(); });
    a.preload = 'metadata'; a.load();
  });
  if (!pending) done();
});
</script>
</body>"#;

#[test]
fn the_report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} is absent (apt-get install chromium)");
        return;
    }
    let (dir, report) = run_study();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let probe = report.join("probe.html");
    std::fs::write(&probe, html.replace("</body>", PROBE)).unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--mute-audio",
            // Lets media metadata load before the DOM is dumped.
            "--virtual-time-budget=10000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("chromium").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "the probe did not report; chromium said:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let json = json.replace("&quot;", "\"").replace("&amp;", "&");
    let got: serde_json::Value = serde_json::from_str(&json).unwrap();

    let figs = got["figures"].as_array().unwrap();
    // The bar chart, one map per representation (2), the training curves,
    // and each representation's reconstructions (2).
    assert_eq!(figs.len(), 6, "{got}");
    let texts = |f: &serde_json::Value| -> Vec<String> {
        f["texts"]
            .as_array()
            .unwrap()
            .iter()
            // Plotters puts each text on its own line inside <text>.
            .map(|t| t.as_str().unwrap().trim().to_string())
            .collect()
    };
    for f in figs {
        assert!(
            f["w"].as_f64().unwrap() > 300.0 && f["h"].as_f64().unwrap() > 150.0,
            "a figure laid out too small: {f}"
        );
        assert!(f["marks"].as_u64().unwrap() > 10, "an empty figure: {f}");
    }
    // Legends: clusterers on the bars; clusters and classes on each map;
    // the loss series on the training curves.
    let all: Vec<Vec<String>> = figs.iter().map(texts).collect();
    assert!(
        all[0].iter().any(|t| t == "clusterer:") && all[0].iter().any(|t| t == "gmm"),
        "bar chart legend: {:?}",
        all[0]
    );
    for map in &all[1..3] {
        for want in [
            "cluster → class",
            "class (tracks)",
            "ambient (6)",
            "rock (6)",
        ] {
            assert!(
                map.iter().any(|t| t == want),
                "map legend lacks {want}: {map:?}"
            );
        }
    }
    assert!(all[3].iter().any(|t| t == "reconstruction") && all[3].iter().any(|t| t == "KL"));

    let players = got["audio"].as_array().unwrap();
    assert_eq!(players.len(), 2 * 3 * 2, "{got}");
    for p in players {
        assert!(p["w"].as_f64().unwrap() > 100.0, "a player not shown: {p}");
        // The browser decoded the clip: one second.
        let d = p["duration"].as_f64().unwrap();
        assert!(
            (d - 1.0).abs() < 0.01,
            "a clip the browser cannot play: {p}"
        );
    }
}
