//! One function per stage after the features: each reads its node's
//! artifact from the cache or builds it, checks what it reads against what
//! the graph expects (rows against the track count), and returns what it
//! did ([`StageRun`]) with its output.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, ensure, Context, Result};
use ndarray::{Array1, Array2};

use super::features::FeatureMatrix;
use super::graph::{StageGraph, Unit, CLUSTER, PROJECT, REPRESENT, SCORE};
use crate::cache::{Artifact, Key, Store};
use crate::cluster::{metrics, Clustering};
use crate::dsp::Pool;
use crate::models::recon::{ReconError, Reconstruction};
use crate::models::{EpochLoss, FitInput, TrainObserver};
use crate::report::recon::ReconShown;
use crate::report::results::Projected;
use crate::spec::{Cell, Experiment};

/// What a stage did for one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageRun {
    pub key: Key,
    /// What computing the artifact cost, in the run that computed it.
    pub seconds: f64,
    /// Whether this run found it in the cache.
    pub cached: bool,
}

impl StageRun {
    fn of(key: Key, a: &Artifact) -> StageRun {
        StageRun {
            key,
            seconds: a.seconds,
            cached: a.cached,
        }
    }
}

/// Whether a stage may compute what is missing (a run), or only read the
/// cache (a report job after a SLURM submission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    Missing,
    Nothing,
}

pub struct Represented {
    pub run: StageRun,
    pub latent: Arc<Array2<f32>>,
    pub history: Vec<EpochLoss>,
    /// The reconstruction's error and the tracks a figure shows.
    pub recon: Option<(ReconError, Option<ReconShown>)>,
}

const LATENT: &str = "latent.npy";
const HISTORY: &str = "history.json";

fn read_rows(dir: &Path, file: &str, rows: usize) -> Result<Array2<f32>> {
    let a: Array2<f32> =
        ndarray_npy::read_npy(dir.join(file)).with_context(|| format!("{file} is unreadable"))?;
    ensure!(
        a.nrows() == rows,
        "{file} has {} rows, the feature set has {rows} tracks",
        a.nrows()
    );
    Ok(a)
}

/// Fits (or reads) a unit's representation.
#[allow(clippy::too_many_arguments)]
pub fn represent(
    graph: &StageGraph,
    unit: &Unit,
    cell: &Cell,
    fm: &FeatureMatrix,
    store: &Store,
    device: &candle_core::Device,
    compute: Compute,
    observer: &dyn TrainObserver,
) -> Result<Represented> {
    let key = graph.key(unit.represent);
    let rows = fm.rows.len();
    let load = |dir: &Path| -> Result<(Array2<f32>, Vec<EpochLoss>, Option<Reconstruction>)> {
        let latent = read_rows(dir, LATENT, rows)?;
        ensure!(
            latent.iter().all(|v| v.is_finite()),
            "{LATENT} has non-finite values"
        );
        let history = serde_json::from_slice(
            &std::fs::read(dir.join(HISTORY)).with_context(|| format!("{HISTORY} is missing"))?,
        )
        .with_context(|| format!("{HISTORY} is not a training history"))?;
        Ok((latent, history, Reconstruction::read(dir)?))
    };
    let ((latent, history, recon), a) = match compute {
        Compute::Nothing => {
            let a = store
                .lookup(REPRESENT, &key)
                .ok_or_else(|| anyhow!("not in the cache"))?;
            (load(&a.dir)?, a)
        }
        Compute::Missing => {
            // The dataset track of each row of the matrix (a window's is its
            // track's).
            let track_of: Vec<usize> = match &fm.windows {
                Some(w) => w.iter().map(|&r| fm.rows[r]).collect(),
                None => fm.rows.clone(),
            };
            let condition = match (
                cell.repr.repr.condition(),
                graph.conditions[&cell.repr.label].as_ref(),
            ) {
                (Some(name), Some(all)) => {
                    let values: Vec<String> = track_of.iter().map(|&i| all[i].clone()).collect();
                    Some(crate::models::Condition::from_values(name, &values))
                }
                _ => None,
            };
            let pooling = cell.features.spec.pooling();
            store.load_or_build(
                REPRESENT,
                &key,
                |tmp| {
                    let fitted = cell.repr.repr.fit(
                        &FitInput {
                            x: &fm.x,
                            layout: &fm.layout,
                            condition: condition.as_ref(),
                            seed: cell.seed,
                            device,
                            observer: Some(observer),
                        },
                        tmp,
                    )?;
                    if let Some(bad) = fitted.latent.iter().position(|v| !v.is_finite()) {
                        anyhow::bail!("latent value {bad} is not finite");
                    }
                    let latent = match (&fm.windows, &pooling) {
                        (Some(w), Some(p)) => pool(&fitted.latent, w, rows, p),
                        _ => fitted.latent,
                    };
                    ndarray_npy::write_npy(tmp.join(LATENT), &latent)?;
                    std::fs::write(tmp.join(HISTORY), serde_json::to_vec(&fitted.history)?)?;
                    if let Some(r) = &fitted.recon {
                        r.write(tmp)?;
                    }
                    if let Some(s) = &fm.scaling {
                        s.write(tmp)?;
                    }
                    Ok(())
                },
                load,
            )?
        }
    };
    Ok(Represented {
        run: StageRun::of(key, &a),
        latent: Arc::new(latent),
        history,
        recon: recon.map(|r| (r.error, ReconShown::new(&r, &fm.layout))),
    })
}

/// Pools window latents into one row per track: for each statistic of
/// `pools` in order, its value per latent dimension over the track's
/// windows (`std` is the population std), concatenated.
pub fn pool(latent: &Array2<f32>, windows: &[usize], tracks: usize, pools: &[Pool]) -> Array2<f32> {
    let d = latent.ncols();
    let mut out = Array2::<f32>::zeros((tracks, d * pools.len()));
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); tracks];
    for (row, &t) in windows.iter().enumerate() {
        members[t].push(row);
    }
    for (t, rows) in members.iter().enumerate() {
        let n = rows.len().max(1) as f64;
        for j in 0..d {
            let vals = rows.iter().map(|&r| latent[[r, j]] as f64);
            let mean = vals.clone().sum::<f64>() / n;
            for (k, p) in pools.iter().enumerate() {
                out[[t, k * d + j]] = match p {
                    Pool::Mean => mean,
                    Pool::Std => (vals.clone().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt(),
                    Pool::Max => vals.clone().fold(f64::NEG_INFINITY, f64::max),
                } as f32;
            }
        }
    }
    out
}

/// Projects a unit's latent to 2-D for the figures. Projections are cheap
/// and feed only figures, so even a report job makes the ones it lacks.
pub fn project(
    exp: &Experiment,
    graph: &StageGraph,
    unit: &Unit,
    rep: &Represented,
    store: &Store,
) -> Result<(Projected, StageRun)> {
    let key = graph.key(unit.project);
    let rows = rep.latent.nrows();
    let load = |dir: &Path| -> Result<Array2<f32>> {
        let p = read_rows(dir, "points.npy", rows)?;
        ensure!(
            p.ncols() == 2,
            "points.npy has {} columns, not 2",
            p.ncols()
        );
        Ok(p)
    };
    let build = |tmp: &Path| -> Result<()> {
        let p = exp.report.projection.project(&rep.latent, 0)?;
        ndarray_npy::write_npy(tmp.join("points.npy"), &p)?;
        Ok(())
    };
    let (p, a) = store.load_or_build(PROJECT, &key, build, load)?;
    Ok((
        Projected {
            method: exp.report.projection.method().into(),
            points: p.rows().into_iter().map(|r| [r[0], r[1]]).collect(),
        },
        StageRun::of(key, &a),
    ))
}

/// A cell's cluster assignments (one per feature-set row; −1 = noise),
/// and how k was chosen when the clusterer chose it.
pub fn cluster(
    graph: &StageGraph,
    c: usize,
    cell: &Cell,
    rep: &Represented,
    store: &Store,
) -> Result<(Clustering, StageRun)> {
    let key = graph.key(graph.cells[c].cluster);
    let rows = rep.latent.nrows();
    let (clustering, a) = store.load_or_build(
        CLUSTER,
        &key,
        |tmp| {
            let c = cell.clusterer.clusterer.fit_predict_detailed(
                &rep.latent,
                graph.n_classes,
                cell.seed,
            )?;
            ndarray_npy::write_npy(tmp.join("labels.npy"), &Array1::from(c.labels))?;
            if let Some(k) = &c.k_choice {
                std::fs::write(tmp.join(K_CHOICE), serde_json::to_vec_pretty(k)?)?;
            }
            Ok(())
        },
        |dir| {
            let l: Array1<i64> = ndarray_npy::read_npy(dir.join("labels.npy"))
                .context("labels.npy is unreadable")?;
            ensure!(
                l.len() == rows,
                "labels.npy has {} labels, the feature set has {rows} tracks",
                l.len()
            );
            let k_choice = match std::fs::read(dir.join(K_CHOICE)) {
                Ok(b) => Some(
                    serde_json::from_slice(&b)
                        .with_context(|| format!("{K_CHOICE} is not a k choice"))?,
                ),
                Err(_) => None,
            };
            Ok(Clustering {
                labels: l.to_vec(),
                k_choice,
            })
        },
    )?;
    Ok((clustering, StageRun::of(key, &a)))
}

const K_CHOICE: &str = "k_choice.json";

/// A cell's metrics.
pub fn score(
    exp: &Experiment,
    graph: &StageGraph,
    c: usize,
    rep: &Represented,
    labels: &[i64],
    truth: Option<&[usize]>,
    store: &Store,
) -> Result<(metrics::Scorecard, StageRun)> {
    let key = graph.key(graph.cells[c].score);
    let cell = &exp.cells[graph.cells[c].cell];
    let (card, a) = store.load_or_build(
        SCORE,
        &key,
        |tmp| {
            let x = rep.latent.mapv(|v| v as f64);
            let card = metrics::scorecard(x.view(), labels, truth, &exp.metrics.include, cell.seed);
            std::fs::write(tmp.join("metrics.json"), serde_json::to_vec_pretty(&card)?)?;
            Ok(())
        },
        |dir| {
            serde_json::from_slice::<metrics::Scorecard>(
                &std::fs::read(dir.join("metrics.json")).context("metrics.json is missing")?,
            )
            .context("metrics.json is not a scorecard")
        },
    )?;
    Ok((card, StageRun::of(key, &a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_summarises_each_tracks_windows() {
        // Two tracks: windows 0, 1 belong to track 0; window 2 to track 1.
        let latent = ndarray::array![[1.0f32, 10.0], [3.0, 20.0], [5.0, -1.0]];
        let p = pool(&latent, &[0, 0, 1], 2, &[Pool::Mean, Pool::Std, Pool::Max]);
        assert_eq!(p.dim(), (2, 6));
        assert_eq!(p.row(0).to_vec(), [2.0, 15.0, 1.0, 5.0, 3.0, 20.0]);
        assert_eq!(p.row(1).to_vec(), [5.0, -1.0, 0.0, 0.0, 5.0, -1.0]);
    }
}
