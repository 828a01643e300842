//! The size of a grid, known before it is expanded: a sweep of a million
//! values is refused in milliseconds, not after expanding (and holding) a
//! million parsed variants.
//!
//! The cells are feature set × representation × clusterer × seed, where a
//! representation only pairs with the feature sets it accepts. Whether it
//! accepts one depends on its `kind` and on the feature set's form (audio
//! summary or sequence, with or without lyrics), never on other parameters
//! (see [`crate::models::Representer::accepts`]), so one parsed variant
//! stands for all the variants of its section unless a key that decides
//! that form is itself swept.

use std::collections::BTreeMap;

use super::grid::Grid;
use super::{error::KeyError, p, RawSpec};
use crate::dsp::{FeatureSetSpec, FeatureShape};
use crate::spec::Group;

/// Feature-set keys that decide the form a representation sees.
const FORM_KEYS: &[&str] = &["kind", "features", "lyrics"];

/// One form of feature set within a section, and how many variants have it.
struct FeatureForm {
    section: String,
    audio: Option<FeatureShape>,
    text: bool,
    variants: u128,
}

/// Refuses a grid of more than `experiment.max_cells` cells.
pub(super) fn check(raw: &RawSpec) -> Result<(), KeyError> {
    let limit = raw.experiment.max_cells as u128;
    let sum = |section: &str, tables: &BTreeMap<String, toml::Table>| -> Result<u128, KeyError> {
        tables.iter().try_fold(0u128, |n, (name, t)| {
            Ok(n.saturating_add(Grid::new(t, &p(&[section, name]))?.len()))
        })
    };
    let f = sum("features", &raw.features)?;
    let r = sum("models", &raw.models)?.saturating_add(sum("baselines", &raw.baselines)?);
    let c = sum("clusterers", &raw.clusterers)?;
    let s = raw.experiment.seeds.len() as u128;
    let bound = f.saturating_mul(r).saturating_mul(c).saturating_mul(s);
    if bound <= limit {
        return Ok(());
    }
    let pairs = accepted_pairs(raw)?;
    let cells = pairs.saturating_mul(c).saturating_mul(s);
    if cells <= limit {
        return Ok(());
    }
    let shown = if cells == u128::MAX {
        "more than 10^38".to_string()
    } else {
        cells.to_string()
    };
    Err(KeyError::at(
        &["experiment", "max_cells"],
        format!(
            "the grid expands to {shown} cells ({pairs} feature set × representation pairs \
             × {c} clusterer(s) × {s} seed(s)), more than experiment.max_cells = {limit}; \
             pass --yes to go ahead, or raise experiment.max_cells (check the sweeps first)"
        ),
    ))
}

/// The number of (feature set variant, representation variant) pairs that
/// make cells, counted one section form at a time.
fn accepted_pairs(raw: &RawSpec) -> Result<u128, KeyError> {
    let mut forms: Vec<FeatureForm> = Vec::new();
    for (name, table) in &raw.features {
        let path = p(&["features", name]);
        let grid = Grid::new(table, &path)?;
        let mut add = |spec: FeatureSetSpec, n: u128| {
            let (audio, text) = (spec.audio_shape(), spec.lyrics.is_some());
            match forms
                .iter_mut()
                .find(|f| f.section == *name && f.audio == audio && f.text == text)
            {
                Some(f) => f.variants = f.variants.saturating_add(n),
                None => forms.push(FeatureForm {
                    section: name.clone(),
                    audio,
                    text,
                    variants: n,
                }),
            }
        };
        if FORM_KEYS.iter().any(|k| is_swept(table, k)) {
            for v in grid.iter() {
                add(FeatureSetSpec::parse(&v.table, &path)?, 1);
            }
        } else if let Some(v) = grid.iter().next() {
            add(FeatureSetSpec::parse(&v.table, &path)?, grid.len());
        }
    }
    let mut pairs = 0u128;
    for (group, section, entries) in [
        (Group::Model, "models", &raw.models),
        (Group::Baseline, "baselines", &raw.baselines),
    ] {
        for (name, table) in entries {
            let path = p(&[section, name]);
            let mut table = table.clone();
            let selected = super::take_feature_selector(&mut table, &path, &raw.features)?;
            let grid = Grid::new(&table, &path)?;
            let (variants, weight): (Vec<super::grid::Variant>, u128) = if is_swept(&table, "kind")
            {
                (grid.iter().collect(), 1)
            } else {
                (grid.iter().take(1).collect(), grid.len())
            };
            for v in variants {
                let repr = crate::models::parse(group, &v.table, &path)?;
                for f in &forms {
                    let chosen = selected.as_ref().is_none_or(|s| s.contains(&f.section));
                    if chosen && repr.accepts(f.audio, f.text) {
                        pairs = pairs.saturating_add(f.variants.saturating_mul(weight));
                    }
                }
            }
        }
    }
    Ok(pairs)
}

fn is_swept(table: &toml::Table, key: &str) -> bool {
    table
        .get(key)
        .and_then(toml::Value::as_table)
        .is_some_and(|t| t.contains_key("sweep"))
}
