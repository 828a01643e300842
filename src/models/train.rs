//! The shared training loop: AdamW, seeded shuffling, optional gradient-norm
//! clipping, per-epoch history, and a clear error when the loss stops being
//! a finite number.

use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::init::Param;
use super::EpochLoss;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (None = no clipping).
    pub grad_clip: Option<f64>,
}

/// The loss of one batch, split into its terms; `total` is what is minimised.
pub struct BatchLoss {
    pub total: Tensor,
    pub reconstruction: Tensor,
    pub kl: Tensor,
}

/// Trains `params` by minimising `loss(batch rows, rng, epoch)` over shuffled
/// mini-batches of `x` (n × d, on `device`).
pub fn fit(
    x: &Tensor,
    params: &[Param],
    cfg: &TrainConfig,
    rng: &mut Xoshiro256PlusPlus,
    device: &Device,
    mut loss: impl FnMut(&Tensor, &mut Xoshiro256PlusPlus, usize) -> candle_core::Result<BatchLoss>,
) -> Result<Vec<EpochLoss>> {
    let n = x.dim(0)?;
    let vars: Vec<_> = params.iter().map(|p| p.var.clone()).collect();
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut history = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        order.shuffle(rng);
        let (mut rec_sum, mut kl_sum, mut tot_sum) = (0f64, 0f64, 0f64);
        for batch in order.chunks(cfg.batch_size) {
            let idx = Tensor::from_slice(batch, batch.len(), device)?;
            let xb = x.index_select(&idx, 0)?;
            let l = loss(&xb, rng, epoch)?;
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
            if let Some(max_norm) = cfg.grad_clip {
                let mut sq = 0f64;
                for p in params {
                    if let Some(g) = grads.get(p.var.as_tensor()) {
                        sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
                    }
                }
                let norm = sq.sqrt();
                if norm > max_norm {
                    let scale = max_norm / (norm + 1e-6);
                    for p in params {
                        if let Some(g) = grads.remove(p.var.as_tensor()) {
                            grads.insert(p.var.as_tensor(), (g * scale)?);
                        }
                    }
                }
            }
            opt.step(&grads)?;
            let w = batch.len() as f64;
            rec_sum += l.reconstruction.to_scalar::<f32>()? as f64 * w;
            kl_sum += l.kl.to_scalar::<f32>()? as f64 * w;
            tot_sum += total * w;
        }
        history.push(EpochLoss {
            epoch: epoch + 1,
            reconstruction: rec_sum / n as f64,
            kl: kl_sum / n as f64,
            total: tot_sum / n as f64,
        });
    }
    Ok(history)
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
