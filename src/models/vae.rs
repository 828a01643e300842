//! `vae`: dense encoder → (μ, log σ²) → z = μ + σ·ε → dense decoder.
//! Loss per track: reconstruction (squared error summed over features)
//! plus β · KL(q(z|x) ‖ N(0, I)), averaged over the batch. The latent
//! used for clustering is μ.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{Module, Tensor, D};
use candle_nn::Linear;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::init::{self, Param};
use super::train::{self, BatchLoss, TrainConfig};
use super::{EpochLoss, FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu,
    Gelu,
    Tanh,
    Silu,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, 0.01),
            Activation::Gelu => x.gelu_erf(),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x.silu(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeParams {
    pub kind: String,
    #[serde(default = "d_latent")]
    pub latent_dim: usize,
    /// Widths of the encoder's hidden layers; the decoder mirrors them.
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    #[serde(default = "d_act")]
    pub activation: Activation,
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_lr")]
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default)]
    pub grad_clip: Option<f64>,
}

fn d_latent() -> usize {
    16
}
fn d_hidden() -> Vec<usize> {
    vec![128, 64]
}
fn d_act() -> Activation {
    Activation::Relu
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

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    let p: VaeParams = crate::spec::typed_table(table, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    if p.latent_dim == 0 {
        return Err(KeyError::new(&at("latent_dim"), "must be at least 1"));
    }
    if p.hidden.contains(&0) {
        return Err(KeyError::new(
            &at("hidden"),
            "layer widths must be positive",
        ));
    }
    if p.epochs == 0 {
        return Err(KeyError::new(&at("epochs"), "must be at least 1"));
    }
    if p.batch_size == 0 {
        return Err(KeyError::new(&at("batch_size"), "must be at least 1"));
    }
    if !(p.lr > 0.0 && p.lr.is_finite()) {
        return Err(KeyError::new(&at("lr"), "must be a positive number"));
    }
    if p.grad_clip.is_some_and(|c| c <= 0.0) {
        return Err(KeyError::new(&at("grad_clip"), "must be positive"));
    }
    Ok(Box::new(Vae { p }))
}

pub struct Vae {
    pub p: VaeParams,
}

/// The network: encoder layers, μ and log σ² heads, decoder layers, output.
pub struct Net {
    enc: Vec<Linear>,
    mu: Linear,
    logvar: Linear,
    dec: Vec<Linear>,
    out: Linear,
    act: Activation,
}

impl Net {
    pub fn new(
        input: usize,
        hidden: &[usize],
        latent: usize,
        act: Activation,
        rng: &mut Xoshiro256PlusPlus,
        device: &candle_core::Device,
        params: &mut Vec<Param>,
    ) -> candle_core::Result<Net> {
        let mut enc = Vec::new();
        let mut width = input;
        for (i, &h) in hidden.iter().enumerate() {
            enc.push(init::linear(
                &format!("encoder.{i}"),
                width,
                h,
                rng,
                device,
                params,
            )?);
            width = h;
        }
        let mu = init::linear("mu", width, latent, rng, device, params)?;
        let logvar = init::linear("logvar", width, latent, rng, device, params)?;
        let mut dec = Vec::new();
        let mut width = latent;
        for (i, &h) in hidden.iter().rev().enumerate() {
            dec.push(init::linear(
                &format!("decoder.{i}"),
                width,
                h,
                rng,
                device,
                params,
            )?);
            width = h;
        }
        let out = init::linear("output", width, input, rng, device, params)?;
        Ok(Net {
            enc,
            mu,
            logvar,
            dec,
            out,
            act,
        })
    }

    pub fn encode(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let mut h = x.clone();
        for l in &self.enc {
            h = self.act.apply(&l.forward(&h)?)?;
        }
        Ok((self.mu.forward(&h)?, self.logvar.forward(&h)?))
    }

    pub fn decode(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = z.clone();
        for l in &self.dec {
            h = self.act.apply(&l.forward(&h)?)?;
        }
        self.out.forward(&h)
    }
}

/// KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dimensions, per row:
/// −½ Σ (1 + log σ² − μ² − σ²).
pub fn kl_per_row(mu: &Tensor, logvar: &Tensor) -> candle_core::Result<Tensor> {
    let inner = ((logvar.exp()? + mu.sqr()?)? - logvar)?;
    ((inner - 1.0)? * 0.5)?.sum(D::Minus1)
}

impl Vae {
    fn train_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.p.epochs,
            batch_size: self.p.batch_size,
            lr: self.p.lr,
            weight_decay: self.p.weight_decay,
            grad_clip: self.p.grad_clip,
        }
    }
}

impl Representer for Vae {
    fn kind(&self) -> &'static str {
        "vae"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn uses_seed(&self) -> bool {
        true
    }
    fn accepts(&self, _shape: FeatureShape) -> bool {
        // Summaries as they are, sequences flattened row by row.
        true
    }

    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted> {
        let (n, d) = input.x.dim();
        if n < 2 {
            bail!("need at least 2 tracks to train, got {n}");
        }
        let device = input.device;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(input.seed);
        let mut params = Vec::new();
        let net = Net::new(
            d,
            &self.p.hidden,
            self.p.latent_dim,
            self.p.activation,
            &mut rng,
            device,
            &mut params,
        )?;
        let x = Tensor::from_slice(input.x.as_slice().expect("standard layout"), (n, d), device)?;
        let latent_dim = self.p.latent_dim;
        let history: Vec<EpochLoss> = train::fit(
            &x,
            &params,
            &self.train_config(),
            &mut rng,
            device,
            |xb, rng, _| {
                let (mu, logvar) = net.encode(xb)?;
                let eps = init::normal(rng, (xb.dim(0)?, latent_dim), device)?;
                let z = (&mu + (logvar.clone() * 0.5)?.exp()?.mul(&eps)?)?;
                let recon = net.decode(&z)?;
                let reconstruction = (recon - xb)?.sqr()?.sum(D::Minus1)?.mean_all()?;
                let kl = kl_per_row(&mu, &logvar)?.mean_all()?;
                Ok(BatchLoss {
                    total: (&reconstruction + &kl)?,
                    reconstruction,
                    kl,
                })
            },
        )?;
        let (mu, _) = net.encode(&x)?;
        let latent: Vec<f32> = mu.flatten_all()?.to_vec1()?;
        let latent = ndarray::Array2::from_shape_vec((n, latent_dim), latent)?;
        train::save_checkpoint(&params, &self.params(), out_dir)?;
        Ok(Fitted { latent, history })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_matches_closed_form() {
        let dev = candle_core::Device::Cpu;
        let mu = Tensor::new(&[[0.5f32, -1.0], [0.0, 2.0]], &dev).unwrap();
        let lv = Tensor::new(&[[0.0f32, -0.5], [1.0, 0.3]], &dev).unwrap();
        let got: Vec<f32> = kl_per_row(&mu, &lv).unwrap().to_vec1().unwrap();
        let closed = |m: &[f64], l: &[f64]| -> f64 {
            m.iter()
                .zip(l)
                .map(|(m, l)| -0.5 * (1.0 + l - m * m - l.exp()))
                .sum()
        };
        let want = [
            closed(&[0.5, -1.0], &[0.0, -0.5]),
            closed(&[0.0, 2.0], &[1.0, 0.3]),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
    }
}
