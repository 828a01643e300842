//! The flat results table (one row per cell) with polars: Parquet and CSV
//! for pandas/polars users, and the aggregation over seeds for the report.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use polars::prelude::*;

use super::results::{CellStatus, RunRecord};

/// Builds the table: identifiers, every resolved parameter as its own
/// column (numeric when every value is a number), metrics, timings, final
/// losses, cache keys, version and commit.
pub fn dataframe(rec: &RunRecord) -> Result<DataFrame> {
    let cells = &rec.cells;
    let n = cells.len();
    let mut cols: Vec<Column> = Vec::new();
    let mut text = |name: &str, f: &dyn Fn(usize) -> Option<String>| {
        cols.push(Column::from(Series::new(
            name.into(),
            (0..n).map(f).collect::<Vec<Option<String>>>(),
        )));
    };
    text("experiment", &|_| Some(rec.experiment.clone()));
    text("cell", &|i| Some(cells[i].cell.clone()));
    text("status", &|i| {
        Some(
            if cells[i].status == CellStatus::Ok {
                "ok"
            } else {
                "failed"
            }
            .into(),
        )
    });
    text("error", &|i| cells[i].error.clone());
    text("feature_set", &|i| Some(cells[i].feature_set.clone()));
    text("representation", &|i| Some(cells[i].representation.clone()));
    text("representation_kind", &|i| {
        Some(cells[i].representation_kind.clone())
    });
    text("group", &|i| Some(cells[i].group.clone()));
    text("clusterer", &|i| Some(cells[i].clusterer.clone()));
    text("clusterer_kind", &|i| Some(cells[i].clusterer_kind.clone()));
    text("dataset", &|_| Some(rec.dataset.description.clone()));
    text("vaerun_version", &|_| Some(rec.vaerun_version.clone()));
    text("git_commit", &|_| rec.git_commit.clone());
    cols.push(Column::from(Series::new(
        "seed".into(),
        cells.iter().map(|c| c.seed).collect::<Vec<u64>>(),
    )));
    cols.push(Column::from(Series::new(
        "tracks".into(),
        cells.iter().map(|c| c.tracks as u64).collect::<Vec<u64>>(),
    )));
    cols.push(Column::from(Series::new(
        "clusters".into(),
        cells
            .iter()
            .map(|c| c.clusters.map(|v| v as u64))
            .collect::<Vec<Option<u64>>>(),
    )));
    cols.push(Column::from(Series::new(
        "noise_fraction".into(),
        cells
            .iter()
            .map(|c| c.noise_fraction)
            .collect::<Vec<Option<f64>>>(),
    )));

    let param_names: BTreeSet<&String> = cells.iter().flat_map(|c| c.params.keys()).collect();
    for name in param_names {
        let values: Vec<Option<&serde_json::Value>> = cells
            .iter()
            .map(|c| c.params.get(name).filter(|v| !v.is_null()))
            .collect();
        let col = format!("param.{name}");
        if values.iter().flatten().all(|v| v.is_number()) {
            let v: Vec<Option<f64>> = values.iter().map(|v| v.and_then(|v| v.as_f64())).collect();
            cols.push(Column::from(Series::new(col.into(), v)));
        } else if values.iter().flatten().all(|v| v.is_boolean()) {
            let v: Vec<Option<bool>> = values.iter().map(|v| v.and_then(|v| v.as_bool())).collect();
            cols.push(Column::from(Series::new(col.into(), v)));
        } else {
            let v: Vec<Option<String>> = values
                .iter()
                .map(|v| {
                    v.map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                })
                .collect();
            cols.push(Column::from(Series::new(col.into(), v)));
        }
    }
    type MetricMap = fn(&super::results::CellResult) -> &BTreeMap<String, Option<f64>>;
    let families: [(&str, MetricMap); 3] = [
        ("", |c| &c.metrics),
        ("noise_excluded.", |c| &c.noise_excluded),
        ("control.", |c| &c.control),
    ];
    for (prefix, get) in families {
        let names: BTreeSet<&String> = cells.iter().flat_map(|c| get(c).keys()).collect();
        for m in names {
            let v: Vec<Option<f64>> = cells
                .iter()
                .map(|c| get(c).get(m).copied().flatten())
                .collect();
            cols.push(Column::from(Series::new(format!("{prefix}{m}").into(), v)));
        }
    }
    let stages: BTreeSet<&String> = cells.iter().flat_map(|c| c.timings.keys()).collect();
    for s in &stages {
        let v: Vec<Option<f64>> = cells.iter().map(|c| c.timings.get(*s).copied()).collect();
        cols.push(Column::from(Series::new(format!("seconds.{s}").into(), v)));
    }
    for (name, f) in [
        (
            "loss.reconstruction",
            (|l: &crate::models::EpochLoss| l.reconstruction)
                as fn(&crate::models::EpochLoss) -> f64,
        ),
        ("loss.kl", |l| l.kl),
        ("loss.total", |l| l.total),
    ] {
        let v: Vec<Option<f64>> = cells.iter().map(|c| c.final_loss.as_ref().map(f)).collect();
        cols.push(Column::from(Series::new(name.into(), v)));
    }
    // Reconstruction error (see report::recon).
    for (name, v) in super::recon::cell_columns(rec) {
        cols.push(Column::from(Series::new(name.into(), v)));
    }
    let key_stages: BTreeSet<&String> = cells.iter().flat_map(|c| c.keys.keys()).collect();
    for s in key_stages {
        let v: Vec<Option<String>> = cells.iter().map(|c| c.keys.get(s).cloned()).collect();
        cols.push(Column::from(Series::new(format!("key.{s}").into(), v)));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

pub fn csv_bytes(df: &mut DataFrame) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).include_header(true).finish(df)?;
    Ok(buf)
}

pub fn parquet_bytes(df: &mut DataFrame) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(df)?;
    Ok(buf)
}

/// Mean ± std (population) and count of a metric over the seeds of one
/// configuration.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Agg {
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub n: usize,
}

/// A configuration (a cell id without its seed) and its aggregated metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AggRow {
    pub config: String,
    pub feature_set: String,
    pub representation: String,
    pub clusterer: String,
    pub seeds: usize,
    pub failed: usize,
    pub metrics: BTreeMap<String, Agg>,
    /// External metrics against shuffled labels (chance level).
    pub control: BTreeMap<String, Agg>,
    /// Metrics with noise points left out (clusterers that mark noise).
    pub noise_excluded: BTreeMap<String, Agg>,
    /// Conditioned on the labels the external metrics score.
    pub label_leak: bool,
}

fn agg_map<'a>(
    cells: &[&'a super::results::CellResult],
    get: impl Fn(&'a super::results::CellResult) -> &'a BTreeMap<String, Option<f64>>,
) -> BTreeMap<String, Agg> {
    let names: BTreeSet<&String> = cells.iter().flat_map(|c| get(c).keys()).collect();
    names
        .into_iter()
        .map(|m| {
            let v: Vec<f64> = cells
                .iter()
                .filter_map(|c| get(c).get(m).copied().flatten())
                .collect();
            let n = v.len();
            let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
            let std =
                mean.map(|mu| (v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / n as f64).sqrt());
            (m.clone(), Agg { mean, std, n })
        })
        .collect()
}

pub fn aggregate(rec: &RunRecord) -> Vec<AggRow> {
    let mut groups: BTreeMap<String, Vec<&super::results::CellResult>> = BTreeMap::new();
    let mut order = Vec::new();
    for c in &rec.cells {
        let config = c
            .cell
            .rsplit_once("/seed=")
            .map(|(a, _)| a.to_string())
            .unwrap_or_else(|| c.cell.clone());
        if !groups.contains_key(&config) {
            order.push(config.clone());
        }
        groups.entry(config).or_default().push(c);
    }
    order
        .into_iter()
        .map(|config| {
            let cs = &groups[&config];
            AggRow {
                config,
                feature_set: cs[0].feature_set.clone(),
                representation: cs[0].representation.clone(),
                clusterer: cs[0].clusterer.clone(),
                seeds: cs.len(),
                failed: cs.iter().filter(|c| c.status == CellStatus::Failed).count(),
                metrics: agg_map(cs, |c| &c.metrics),
                control: agg_map(cs, |c| &c.control),
                noise_excluded: agg_map(cs, |c| &c.noise_excluded),
                label_leak: cs.iter().any(|c| c.label_leak.is_some()),
            }
        })
        .collect()
}

/// The configurations in leaderboard order: by the record's sort metric,
/// best first (the direction the metric calls better); configurations where
/// it is undefined last, in cell order.
pub fn ranked(rec: &RunRecord) -> Vec<AggRow> {
    let mut agg = aggregate(rec);
    let sort = &rec.sort_by;
    let key = |r: &AggRow| r.metrics.get(sort).and_then(|a| a.mean);
    // A stable sort: ties keep cell order.
    agg.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) if super::render::lower_is_better(sort) => x.total_cmp(&y),
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    agg
}

/// The aggregated table: one row per configuration (a cell id without its
/// seed) with, for every metric, the mean, std (population) and n over seeds.
pub fn aggregated_dataframe(rec: &RunRecord) -> Result<DataFrame> {
    let rows = aggregate(rec);
    let text = |name: &str, f: &dyn Fn(&AggRow) -> String| {
        Column::from(Series::new(
            name.into(),
            rows.iter().map(f).collect::<Vec<String>>(),
        ))
    };
    let mut cols = vec![
        text("configuration", &|r| r.config.clone()),
        text("feature_set", &|r| r.feature_set.clone()),
        text("representation", &|r| r.representation.clone()),
        text("clusterer", &|r| r.clusterer.clone()),
        Column::from(Series::new(
            "cells".into(),
            rows.iter().map(|r| r.seeds as u64).collect::<Vec<u64>>(),
        )),
        Column::from(Series::new(
            "failed".into(),
            rows.iter().map(|r| r.failed as u64).collect::<Vec<u64>>(),
        )),
    ];
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    for m in names {
        let get = |r: &AggRow| r.metrics.get(m).cloned();
        cols.push(Column::from(Series::new(
            format!("{m}.mean").into(),
            rows.iter()
                .map(|r| get(r).and_then(|a| a.mean))
                .collect::<Vec<_>>(),
        )));
        cols.push(Column::from(Series::new(
            format!("{m}.std").into(),
            rows.iter()
                .map(|r| get(r).and_then(|a| a.std))
                .collect::<Vec<_>>(),
        )));
        cols.push(Column::from(Series::new(
            format!("{m}.n").into(),
            rows.iter()
                .map(|r| get(r).map_or(0, |a| a.n as u64))
                .collect::<Vec<_>>(),
        )));
    }
    // Reconstruction error over seeds (see report::recon).
    if let Some(recon) = super::recon::by_config(rec) {
        let get = |r: &AggRow| recon.get(&r.config).cloned();
        cols.push(Column::from(Series::new(
            "recon_error.mean".into(),
            rows.iter()
                .map(|r| get(r).and_then(|a| a.mean))
                .collect::<Vec<_>>(),
        )));
        cols.push(Column::from(Series::new(
            "recon_error.std".into(),
            rows.iter()
                .map(|r| get(r).and_then(|a| a.std))
                .collect::<Vec<_>>(),
        )));
        cols.push(Column::from(Series::new(
            "recon_error.n".into(),
            rows.iter()
                .map(|r| get(r).map_or(0, |a| a.n as u64))
                .collect::<Vec<_>>(),
        )));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}
