//! Figures as SVG (plotters), drawn from the results record alone so that
//! `runner report` redraws them. One file per figure:
//!
//! - [`bars`]: the leaderboard metric per configuration, sorted, every bar
//!   labelled, coloured by clusterer, with the std over seeds as error bars;
//! - [`choose_k`]: the criterion against k where a clusterer chose k;
//! - [`projection`]: each representation's 2-D map, coloured by the clusters
//!   of one clusterer and by true label, with legends and matched colours;
//! - [`loss`]: training curves of every trained representation, one small
//!   panel each, one line per seed;
//! - [`recon`]: a few tracks' inputs next to their reconstructions.
//!
//! [`legend`] draws legends; [`super::colours`] holds the shared palette.
//! Each figure names the report section it belongs to ([`Section`]).

pub mod bars;
pub mod choose_k;
pub mod legend;
pub mod loss;
pub mod projection;
pub mod recon;

use serde::Serialize;

use super::results::RunRecord;
use super::table::ranked;

/// Where a figure goes in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Beside the leaderboard.
    Overview,
    /// Latent maps.
    Maps,
    /// Training curves.
    Training,
    /// Inputs next to their reconstructions.
    Reconstructions,
}

pub struct Figure {
    /// File stem under figures/.
    pub name: String,
    /// The caption (plain text; escaped by the renderer).
    pub title: String,
    pub section: Section,
    pub svg: String,
}

pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Every figure for a record, in report order.
pub fn figures(rec: &RunRecord) -> Vec<Figure> {
    let ranked = ranked(rec);
    let mut out = Vec::new();
    out.extend(bars::bars(rec, &ranked));
    out.extend(choose_k::choose_k(rec));
    out.extend(projection::maps(rec, &ranked));
    out.extend(loss::training(rec));
    out.extend(recon::reconstruction_figures(rec));
    out
}
