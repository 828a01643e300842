//! Decoding from the prior: a trained VAE-family model's decoder, rebuilt
//! from its checkpoint (`model.safetensors` + `config.json`), turns codes
//! z ~ N(0, I) — and, for a conditional model, a condition — into feature
//! vectors in the space the model was trained on.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};

use super::init::Param;

pub trait Generator {
    fn latent_dim(&self) -> usize;
    /// The condition's levels (sorted, as one-hot columns), for a
    /// conditional model.
    fn condition_levels(&self) -> Option<&[String]> {
        None
    }
    /// The decoder's mean output (n × every column of the feature matrix,
    /// in its order) for codes `z` (n × latent) and, for a conditional
    /// model, the rows' one-hot condition (n × levels); evaluation mode.
    fn decode(&self, z: &Tensor, condition: Option<&Tensor>) -> Result<Tensor>;
}

/// The checkpoint's `config.json`.
pub fn read_config(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("config.json");
    serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))
}

/// A whole number from `config.json`.
pub fn config_usize(config: &serde_json::Value, key: &str) -> Result<usize> {
    config
        .get(key)
        .and_then(|v| v.as_u64())
        .map(|v| v as usize)
        .with_context(|| format!("config.json has no `{key}`: the checkpoint predates sampling"))
}

/// Overwrites freshly built parameters with the checkpoint's tensors, by
/// name, checking every shape (a mismatch means the checkpoint belongs to
/// another architecture).
pub fn load_params(params: &[Param], dir: &Path, device: &Device) -> Result<()> {
    let path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&path, device)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for p in params {
        let Some(t) = tensors.get(&p.name) else {
            bail!("{} has no tensor `{}`", path.display(), p.name);
        };
        if t.dims() != p.var.dims() {
            bail!(
                "{}: `{}` has shape {:?}, the model expects {:?}",
                path.display(),
                p.name,
                t.dims(),
                p.var.dims()
            );
        }
        p.var.set(&t.to_dtype(p.var.dtype())?)?;
    }
    Ok(())
}
