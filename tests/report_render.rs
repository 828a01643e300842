//! The report from a fixed results set: a Markdown snapshot, an HTML that is
//! well formed and shows every cell, and figures for every representation.
//! `UPDATE_SNAPSHOTS=1 cargo test --release --test report_render` rewrites
//! the snapshot after an intended change (review the diff).

use std::path::Path;

use vaerun::report::{figures, load, render};

fn fixture() -> vaerun::report::results::RunRecord {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")).unwrap()
}

#[test]
fn markdown_matches_the_snapshot() {
    let rec = fixture();
    let (md, _) = render::render(&rec, None, &figures::figures(&rec)).unwrap();
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
    let figs = figures::figures(&rec);
    let (_, html) = render::render(&rec, None, &figs).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for tag in [
        "html", "head", "body", "table", "thead", "tbody", "tr", "div", "figure", "svg", "ul",
        "script", "style",
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
    // One inline SVG per figure: bars, a projection per representation, loss curves for trained ones.
    assert_eq!(html.matches("<figure>").count(), figs.len());
    assert_eq!(
        figs.iter()
            .filter(|f| f.name.starts_with("latent_"))
            .count(),
        rec.projections.len()
    );
    assert!(figs.iter().any(|f| f.name.starts_with("bars_")));
}
