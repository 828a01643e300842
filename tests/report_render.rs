//! The report from a fixed results set: a Markdown snapshot, an HTML that is
//! well formed and shows every cell, and the figures a reader needs.
//! `UPDATE_SNAPSHOTS=1 cargo test --release --test report_render` rewrites
//! the snapshot after an intended change (review the diff).
//!
//! The fixture is the record of a real run (tests/fixtures/report/all.toml:
//! the built-in corpus, 3 classes × 6 clips; a VAE and PCA; K-Means and
//! GMM; 2 seeds). Its audio paths point into a cache that does not exist
//! here, so the listening section must show paths, not players.

use std::path::Path;

use vaerun::report::figures::Section;
use vaerun::report::results::RunRecord;
use vaerun::report::{figures, listen, load, render, table};

fn fixture() -> RunRecord {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")).unwrap()
}

fn rendered(rec: &RunRecord) -> (Vec<figures::Figure>, String, String) {
    let figs = figures::figures(rec);
    let dir = tempfile::tempdir().unwrap();
    let mut sets = listen::plan(rec, &table::ranked(rec));
    listen::attach_audio(&mut sets, rec, dir.path()).unwrap();
    let (md, html) = render::render(rec, None, &figs, &sets).unwrap();
    (figs, md, html)
}

#[test]
fn markdown_matches_the_snapshot() {
    let rec = fixture();
    let (_, md, _) = rendered(&rec);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/report.md.snap");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &md).unwrap();
    }
    let want =
        std::fs::read_to_string(&path).expect("snapshot missing: run with UPDATE_SNAPSHOTS=1 once");
    assert_eq!(
        md, want,
        "report.md changed; if intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn html_is_well_formed_and_shows_every_cell() {
    let rec = fixture();
    let (figs, _, html) = rendered(&rec);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for tag in [
        "html", "head", "body", "table", "thead", "tbody", "tr", "div", "figure", "svg", "ul",
        "script", "style", "details", "section", "nav",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    for c in &rec.cells {
        assert!(html.contains(&c.cell), "cell {} missing", c.cell);
    }
    // Self-contained: nothing is loaded from elsewhere (the SVG namespace
    // URI is an identifier, not a fetch).
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "url(http"] {
        assert!(
            !html.contains(needle),
            "report.html loads something: {needle}"
        );
    }
    assert_eq!(html.matches("<figure>").count(), figs.len());
}

#[test]
fn figures_cover_the_ranking_every_representation_and_training() {
    let rec = fixture();
    let figs = figures::figures(&rec);
    let of = |s: Section| figs.iter().filter(|f| f.section == s).count();
    assert_eq!(of(Section::Overview), 1, "one bar chart");
    // One map per representation (not per seed or per clusterer).
    let reprs: std::collections::BTreeSet<_> = rec
        .cells
        .iter()
        .map(|c| (&c.feature_set, &c.representation))
        .collect();
    assert_eq!(of(Section::Maps), reprs.len());
    assert_eq!(of(Section::Training), 1, "one small-multiples loss figure");
    // Every configuration is labelled in the bar chart, and every map has
    // both legends.
    let bars = figs
        .iter()
        .find(|f| f.section == Section::Overview)
        .unwrap();
    for r in table::aggregate(&rec) {
        assert!(bars.svg.contains(&r.config), "{} unlabelled", r.config);
    }
    for m in figs.iter().filter(|f| f.section == Section::Maps) {
        assert!(m.svg.contains("cluster → class") && m.svg.contains("class (tracks)"));
        for class in &rec.dataset.classes {
            assert!(m
                .svg
                .contains(&format!("{} ({})", class.name, class.tracks)));
        }
    }
}

#[test]
fn maps_follow_the_projection_clusterer() {
    let mut rec = fixture();
    let ranked = table::ranked(&rec);
    let lead = ranked[0].clusterer.clone();
    assert_eq!(
        figures::projection::map_clusterer(&rec, &ranked).as_deref(),
        Some(lead.as_str()),
        "default: the leading configuration's clusterer"
    );
    let other = rec
        .cells
        .iter()
        .map(|c| c.clusterer.clone())
        .find(|c| *c != lead)
        .unwrap();
    rec.report.projection_clusterer = Some(other.clone());
    let figs = figures::figures(&rec);
    let maps: Vec<_> = figs.iter().filter(|f| f.section == Section::Maps).collect();
    assert!(!maps.is_empty());
    for m in maps {
        assert!(
            m.title.contains(&format!("{other} clusters")),
            "{}",
            m.title
        );
    }
}

#[test]
fn listening_lists_the_leading_configuration_and_shows_missing_paths() {
    let rec = fixture();
    let sets = listen::plan(&rec, &table::ranked(&rec));
    assert!(sets[0].leading);
    let lead = &rec.cells.iter().find(|c| c.cell == sets[0].cell).unwrap();
    assert_eq!(sets[0].clusters.len(), lead.exemplars.len());
    for c in &sets[0].clusters {
        assert!(!c.tracks.is_empty() && c.tracks.len() <= rec.report.listen);
    }
    // The asked-for cells follow.
    for id in &rec.report.listen_cells {
        assert!(sets.iter().any(|s| &s.cell == id && !s.leading));
    }
    let (_, md, html) = rendered(&rec);
    // The corpus is not on disk: no player, the path instead.
    assert!(!html.contains("<audio"));
    assert!(html.contains("audio not found"));
    let first = &sets[0].clusters[0].tracks[0];
    assert!(md.contains(&format!(
        "{} ({}) (audio not found: `{}`)",
        first.id,
        first.label.as_deref().unwrap(),
        first.path.as_deref().unwrap()
    )));
}

#[test]
fn heatmaps_respect_each_metrics_direction() {
    let rec = fixture();
    let (_, md, _) = rendered(&rec);
    // Davies–Bouldin: lower is better, so its bold value is the matrix minimum.
    let section = md
        .split("**davies_bouldin** (lower is better)")
        .nth(1)
        .unwrap();
    let table: Vec<&str> = section
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let values: Vec<(f64, bool)> = table
        .iter()
        .flat_map(|l| l.split('|').skip(2))
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "—")
        .map(|v| {
            (
                v.trim_matches('*').parse::<f64>().unwrap(),
                v.starts_with("**"),
            )
        })
        .collect();
    let min = values.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
    assert!(
        values.iter().all(|(v, bold)| *bold == (*v == min)),
        "{values:?}"
    );
}

#[test]
fn cluster_colours_are_the_matched_classes_colours() {
    use vaerun::report::colours::{class_colour, cluster_colours};
    let rec = fixture();
    for cell in &rec.cells {
        let colours = cluster_colours(&rec, cell);
        for c in colours.values() {
            if let Some(class) = c.matched {
                assert_eq!(c.colour, class_colour(class));
            }
        }
        // The same matching as cluster accuracy: the agreeing tracks over all.
        let agreeing: usize = colours.values().map(|c| c.agreeing).sum();
        let accuracy = cell.metrics["accuracy"].unwrap();
        assert!(
            (agreeing as f64 / cell.assignments.len() as f64 - accuracy).abs() < 1e-12,
            "{}",
            cell.cell
        );
        // Renaming the clusters leaves every track's colour as it was.
        let mut renamed = cell.clone();
        let k = *cell.assignments.iter().max().unwrap() + 1;
        renamed.assignments = cell.assignments.iter().map(|a| (a + 1) % k).collect();
        let again = cluster_colours(&rec, &renamed);
        for (a, b) in cell.assignments.iter().zip(&renamed.assignments) {
            assert_eq!(colours[a].colour, again[b].colour);
        }
    }
}

#[test]
fn settings_show_what_differs_not_every_default() {
    let rec = fixture();
    let tables = vaerun::report::params::tables(&rec);
    let reprs = tables
        .iter()
        .find(|t| t.stage == "representations")
        .unwrap();
    let vae = reprs.rows.iter().find(|r| r.name == "vae").unwrap();
    let keys: Vec<&str> = vae.settings.iter().map(|s| s.key.as_str()).collect();
    // all.toml sets these four; lr, beta and the rest stay at their defaults.
    assert_eq!(keys, ["batch_size", "epochs", "hidden", "latent_dim"]);
    let clusterers = tables.iter().find(|t| t.stage == "clusterers").unwrap();
    assert!(clusterers.rows.iter().all(|r| r.settings.is_empty()));
}

#[test]
fn the_leaderboard_shows_reconstruction_error_lower_is_better() {
    let mut rec = fixture();
    // The fixture's record predates reconstructions: give the VAE and PCA
    // cells an error (PCA reconstructs better) and leave the rest without.
    for c in &mut rec.cells {
        let all = match c.representation.as_str() {
            "vae" => 0.9 + 0.01 * c.seed as f64,
            "pca" => 0.2,
            _ => continue,
        };
        c.recon_error = Some(vaerun::models::recon::ReconError {
            all,
            audio: None,
            lyrics: None,
        });
    }
    let (_, md, html) = rendered(&rec);
    let header = md
        .lines()
        .find(|l| l.starts_with("| # | configuration"))
        .unwrap();
    assert!(header.ends_with(" recon. MSE |"), "{header}");
    let pca = md
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("| mfcc/pca/kmeans |"))
        .unwrap();
    assert!(
        pca.ends_with("| **0.2000 ± 0.0000** |"),
        "the lowest is bold: {pca}"
    );
    let vae = md
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("| mfcc/vae/kmeans |"))
        .unwrap();
    assert!(vae.ends_with("| 0.9050 ± 0.0050 |"), "{vae}");
    assert!(html.contains(">recon. MSE</th>"));
    // Without any reconstruction the column is not there.
    let (_, md, _) = rendered(&fixture());
    assert!(!md.contains("recon. MSE"));
}

#[test]
fn choosing_k_draws_each_criterion_curve_and_the_true_class_count() {
    use vaerun::cluster::{Criterion, KChoice, KPoint};
    let mut rec = fixture();
    for c in rec.cells.iter_mut().filter(|c| c.clusterer == "kmeans") {
        let chosen = 3 + c.seed as usize;
        c.k_choice = Some(KChoice {
            by: Criterion::Silhouette,
            curve: (2..=6)
                .map(|k| KPoint {
                    k,
                    value: Some(if k == chosen { 0.5 } else { 0.2 }),
                    reason: None,
                })
                .collect(),
            chosen,
            note: None,
        });
    }
    let (figs, md, _) = rendered(&rec);
    let f = figs
        .iter()
        .find(|f| f.name == "choose_k")
        .expect("a choose_k figure");
    assert_eq!(f.section, Section::Overview);
    for want in [
        "mfcc/vae/kmeans: k = 3, 4",
        "mfcc/pca/kmeans: k = 3, 4",
        "3 true classes",
    ] {
        assert!(f.title.contains(want), "{want}: {}", f.title);
    }
    assert!(f.svg.contains("true classes") && f.svg.contains("chosen k"));
    assert!(
        f.svg.matches("<circle").count() >= 2 * 2 * 2,
        "a mark per seed and panel"
    );
    assert!(md.contains("figures/choose_k.svg"));
    // No auto-k, no figure.
    assert!(!figures::figures(&fixture())
        .iter()
        .any(|f| f.name == "choose_k"));
}
