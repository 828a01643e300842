//! The shared training loop: AdamW, seeded shuffling, optional gradient-norm
//! clipping, an optional validation split with early stopping, per-epoch
//! history, and a clear error when the loss stops being a finite number.

use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::init::Param;
use super::layers::Mode;
use super::optim::Adam;
use super::EpochLoss;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (None = no clipping).
    pub grad_clip: Option<f64>,
    /// Fraction of rows held out to measure a validation loss each epoch.
    pub validation_split: f64,
    /// Stop when the validation loss has not improved for this many epochs,
    /// and keep the weights of the best epoch.
    pub early_stopping: Option<usize>,
}

/// The training keys every trained model accepts, parsed apart from the
/// model's own keys so each model file declares only what is its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingParams {
    /// Training epochs.
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Tracks per minibatch.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// AdamW learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// AdamW decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (absent: no clipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Fraction of tracks held out to record a validation loss each epoch, in [0, 0.9).
    #[serde(default)]
    pub validation_split: f64,
    /// Stop after this many epochs without a better validation loss, keeping the best weights (needs validation_split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
}

fn d_epochs() -> usize {
    100
}
fn d_batch() -> usize {
    32
}
fn d_lr() -> f64 {
    1e-3
}

pub const TRAINING_KEYS: &[&str] = &[
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "validation_split",
    "early_stopping",
];

impl TrainingParams {
    /// Takes the training keys out of a model's table: returns them parsed
    /// and checked, and the rest of the table for the model itself.
    pub fn take(
        table: &toml::Table,
        path: &[String],
    ) -> Result<(TrainingParams, toml::Table), crate::spec::KeyError> {
        let (mut mine, mut rest) = (toml::Table::new(), toml::Table::new());
        for (k, v) in table {
            if TRAINING_KEYS.contains(&k.as_str()) {
                mine.insert(k.clone(), v.clone());
            } else {
                rest.insert(k.clone(), v.clone());
            }
        }
        let p: TrainingParams = crate::spec::typed_table(&mine, path)?;
        let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
        let err = |k: &str, m: &str| Err(crate::spec::KeyError::new(&at(k), m));
        if p.epochs == 0 {
            return err("epochs", "must be at least 1");
        }
        if p.batch_size == 0 {
            return err("batch_size", "must be at least 1");
        }
        if !(p.lr > 0.0 && p.lr.is_finite()) {
            return err("lr", "must be a positive number");
        }
        if p.weight_decay < 0.0 || p.weight_decay.is_nan() {
            return err("weight_decay", "must be zero or positive");
        }
        if p.grad_clip.is_some_and(|c| c <= 0.0 || c.is_nan()) {
            return err("grad_clip", "must be positive");
        }
        if !(0.0..0.9).contains(&p.validation_split) {
            return err("validation_split", "must be in [0, 0.9)");
        }
        if p.early_stopping.is_some() && p.validation_split == 0.0 {
            return err(
                "early_stopping",
                "needs a validation split to watch: set validation_split, e.g. 0.1",
            );
        }
        if p.early_stopping == Some(0) {
            return err("early_stopping", "must be at least 1 epoch");
        }
        Ok((p, rest))
    }

    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
            validation_split: self.validation_split,
            early_stopping: self.early_stopping,
        }
    }
}

/// Joins a model's own parameters and its training parameters into the one
/// JSON object that is the cache key, the results columns and config.json.
pub fn merged_params<T: Serialize>(own: &T, training: &TrainingParams) -> serde_json::Value {
    let mut v = serde_json::to_value(own).expect("parameters serialise");
    let t = serde_json::to_value(training).expect("parameters serialise");
    if let (Some(o), serde_json::Value::Object(t)) = (v.as_object_mut(), t) {
        o.extend(t);
    }
    v
}

/// The loss of one batch, split into its terms; `total` is what is minimised.
pub struct BatchLoss {
    pub total: Tensor,
    pub reconstruction: Tensor,
    pub kl: Tensor,
}

/// Where training stands when a batch loss is computed.
pub struct Step<'a> {
    /// Row indices of the batch (u32, on the model's device).
    pub rows: &'a Tensor,
    /// Epochs done, fractional within the current one (for schedules).
    pub progress: f64,
}

/// Trains the trainable `params` by minimising `loss` over shuffled
/// mini-batches of the rows `0..n`. Row order, the validation split and
/// every random draw come from `rng`, so a seed fixes the whole run.
pub fn fit(
    n: usize,
    params: &[Param],
    cfg: &TrainConfig,
    rng: &mut Xoshiro256PlusPlus,
    device: &Device,
    observer: Option<&dyn super::TrainObserver>,
    mut loss: impl FnMut(&Step, &mut Mode) -> candle_core::Result<BatchLoss>,
) -> Result<Vec<EpochLoss>> {
    if n < 2 {
        bail!("need at least 2 tracks to train, got {n}");
    }
    if device.is_cpu() {
        super::host::keep_freed_memory();
    }
    let vars: Vec<_> = params
        .iter()
        .filter(|p| p.trainable)
        .map(|p| p.var.clone())
        .collect();
    let mut opt = Adam::new(vars, cfg.lr, cfg.weight_decay)?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    let n_val = ((n as f64) * cfg.validation_split).round() as usize;
    let n_val = n_val.min(n.saturating_sub(1));
    let (val_rows, train_rows) = order.split_at(n_val);
    let val_rows = val_rows.to_vec();
    let mut order = train_rows.to_vec();
    let steps_per_epoch = order.len().div_ceil(cfg.batch_size) as f64;

    let mut history = Vec::with_capacity(cfg.epochs);
    let mut best: Option<(f64, Vec<Tensor>)> = None;
    let mut since_best = 0;
    for epoch in 0..cfg.epochs {
        order.shuffle(rng);
        let mut sums = Sums::default();
        for (b, batch) in order.chunks(cfg.batch_size).enumerate() {
            let idx = Tensor::from_slice(batch, batch.len(), device)?;
            let step = Step {
                rows: &idx,
                progress: epoch as f64 + b as f64 / steps_per_epoch,
            };
            let l = loss(&step, &mut Mode { train: true, rng })?;
            let total = l.total.to_scalar::<f32>()? as f64;
            if !total.is_finite() {
                bail!(
                    "training diverged: the loss became {total} at epoch {} of {} (lr = {}); \
                     lower `lr`, enable `grad_clip`, or check the input features",
                    epoch + 1,
                    cfg.epochs,
                    cfg.lr
                );
            }
            let mut grads = l.total.backward()?;
            opt.step(&mut grads, cfg.grad_clip)?;
            sums.add(&l, total, batch.len())?;
        }
        let mut record = sums.epoch(epoch + 1);
        if !val_rows.is_empty() {
            let mut vs = Sums::default();
            for batch in val_rows.chunks(cfg.batch_size.max(256)) {
                let idx = Tensor::from_slice(batch, batch.len(), device)?;
                let step = Step {
                    rows: &idx,
                    progress: epoch as f64 + 1.0,
                };
                let l = loss(&step, &mut Mode { train: false, rng })?;
                let total = l.total.to_scalar::<f32>()? as f64;
                vs.add(&l, total, batch.len())?;
            }
            let val = vs.epoch(epoch + 1).total;
            record.validation = Some(val);
            if !val.is_finite() {
                bail!(
                    "training diverged: the validation loss became {val} at epoch {}",
                    epoch + 1
                );
            }
            if best.as_ref().is_none_or(|(b, _)| val < *b) {
                let snapshot = params
                    .iter()
                    .map(|p| p.var.as_tensor().copy())
                    .collect::<candle_core::Result<Vec<_>>>()?;
                best = Some((val, snapshot));
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        if let Some(o) = observer {
            o.epoch(&record, cfg.epochs);
        }
        history.push(record);
        if cfg.early_stopping.is_some_and(|p| since_best >= p) {
            break;
        }
    }
    if let (Some(_), Some((_, snapshot))) = (cfg.early_stopping, best) {
        for (p, t) in params.iter().zip(snapshot) {
            p.var.set(&t)?;
        }
    }
    Ok(history)
}

/// Row-weighted sums of the loss terms over an epoch.
#[derive(Default)]
struct Sums {
    rows: usize,
    reconstruction: f64,
    kl: f64,
    total: f64,
}

impl Sums {
    fn add(&mut self, l: &BatchLoss, total: f64, rows: usize) -> candle_core::Result<()> {
        let w = rows as f64;
        self.rows += rows;
        self.reconstruction += l.reconstruction.to_scalar::<f32>()? as f64 * w;
        self.kl += l.kl.to_scalar::<f32>()? as f64 * w;
        self.total += total * w;
        Ok(())
    }

    fn epoch(&self, epoch: usize) -> EpochLoss {
        let n = self.rows.max(1) as f64;
        EpochLoss {
            epoch,
            reconstruction: self.reconstruction / n,
            kl: self.kl / n,
            total: self.total / n,
            validation: None,
        }
    }
}

/// Writes the parameters as safetensors (PyTorch-style names such as
/// `encoder.0.weight`) and the resolved configuration as JSON beside them.
pub fn save_checkpoint(
    params: &[Param],
    config: &serde_json::Value,
    dir: &std::path::Path,
) -> Result<()> {
    let tensors: std::collections::HashMap<String, Tensor> = params
        .iter()
        .map(|p| (p.name.clone(), p.var.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(config)?,
    )?;
    Ok(())
}
