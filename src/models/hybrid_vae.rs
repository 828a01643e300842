//! `hybrid_vae`: audio and lyrics in one latent.
//!
//! Two encoders, one per modality, each give a Gaussian expert q(z | x_m);
//! they are fused with the prior N(0, I) as a product of experts (Wu &
//! Goodman 2018, "Multimodal generative models for scalable weakly-
//! supervised learning"):
//!
//!   precision T = 1 + Σ_m m_m / σ_m²,   μ = (Σ_m m_m μ_m / σ_m²) / T,
//!
//! where m_m is 1 when the track has that modality. A track without lyrics
//! is thus encoded from its audio alone: its empty lyrics are masked out of
//! the fusion and of the lyrics reconstruction loss, never fed in as zeros
//! that pretend to be text. Two decoders reconstruct both modalities from z;
//! the loss is audio_weight · recon_audio + lyrics_weight · recon_lyrics
//! (over tracks with lyrics) + KL.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{Tensor, D};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::generate::{self, Generator};
use super::init::{self, Param};
use super::layers::{self, Activation, GaussianHead, Hidden, Mlp, Mode, NormKind};
use super::linear::Linear;
use super::loss::{kl_per_row, KlWeighting, ReconLoss};
use super::recon::{to_array, Reconstruction};
use super::train::{self, BatchLoss, TrainingParams};
use super::vae::{check_net, encode_all, to_tensor};
use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HybridParams {
    pub kind: String,
    /// Size of the shared latent code z.
    #[serde(default = "d_latent")]
    pub latent_dim: usize,
    /// Widths of the audio encoder; its decoder mirrors them.
    #[serde(default = "d_audio_hidden")]
    pub audio_hidden: Vec<usize>,
    /// Widths of the lyrics encoder; its decoder mirrors them.
    #[serde(default = "d_lyrics_hidden")]
    pub lyrics_hidden: Vec<usize>,
    /// Hidden-layer activation.
    #[serde(default = "d_act")]
    pub activation: Activation,
    /// Dropout after each hidden layer, in [0, 1) (seeded).
    #[serde(default)]
    pub dropout: f64,
    /// Normalisation before each activation: none, batch or layer.
    #[serde(default)]
    pub norm: NormKind,
    /// Weight of the audio reconstruction term.
    #[serde(default = "d_one")]
    pub audio_weight: f64,
    /// Weight of the lyrics reconstruction term.
    #[serde(default = "d_one")]
    pub lyrics_weight: f64,
    /// Audio reconstruction loss: mse or bce.
    #[serde(default)]
    pub audio_loss: ReconLoss,
    /// TF-IDF rows lie in [0, 1]; "bce" suits them, "mse" suits embeddings.
    #[serde(default)]
    pub lyrics_loss: ReconLoss,
    /// Weight of the KL term.
    #[serde(default = "d_one")]
    pub beta: f64,
    /// Epochs over which the KL weight rises linearly from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_warmup: Option<usize>,
}

fn d_latent() -> usize {
    16
}
fn d_audio_hidden() -> Vec<usize> {
    vec![128, 64]
}
fn d_lyrics_hidden() -> Vec<usize> {
    vec![64]
}
fn d_act() -> Activation {
    Activation::Relu
}
fn d_one() -> f64 {
    1.0
}

/// Its own keys and the training keys.
pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    let mut s = crate::spec::schema::object::<HybridParams>(gen);
    crate::spec::schema::merge_properties(
        &mut s,
        &crate::spec::schema::object::<TrainingParams>(gen),
    );
    s
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    let (training, rest) = TrainingParams::take(table, path)?;
    let p: HybridParams = crate::spec::typed_table(&rest, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    check_net(&p.audio_hidden, p.latent_dim, p.dropout, path)?;
    check_net(&p.lyrics_hidden, p.latent_dim, p.dropout, path)?;
    for (k, v) in [
        ("audio_weight", p.audio_weight),
        ("lyrics_weight", p.lyrics_weight),
        ("beta", p.beta),
    ] {
        if v < 0.0 || !v.is_finite() {
            return Err(KeyError::new(&at(k), "must be zero or positive"));
        }
    }
    Ok(Box::new(HybridVae { p, training }))
}

pub struct HybridVae {
    pub p: HybridParams,
    pub training: TrainingParams,
}

struct Expert {
    enc: Mlp,
    head: GaussianHead,
}

struct Net {
    audio: Expert,
    lyrics: Expert,
    audio_dec: (Mlp, Linear),
    lyrics_dec: (Mlp, Linear),
}

/// What every part of the network is built with.
struct Builder<'a> {
    hidden: Hidden,
    latent: usize,
    rng: &'a mut Xoshiro256PlusPlus,
    device: &'a candle_core::Device,
    params: &'a mut Vec<Param>,
}

impl Builder<'_> {
    /// `{name}_encoder.*` layers and a `{name}_mu` / `{name}_logvar` head.
    fn expert(
        &mut self,
        name: &str,
        input: usize,
        widths: &[usize],
    ) -> candle_core::Result<Expert> {
        let enc = Mlp::new(
            &format!("{name}_encoder"),
            input,
            widths,
            self.hidden,
            self.rng,
            self.device,
            self.params,
        )?;
        let mut own = Vec::new();
        let head = GaussianHead::new(enc.out_width, self.latent, self.rng, self.device, &mut own)?;
        for mut p in own {
            p.name = format!("{name}_{}", p.name);
            self.params.push(p);
        }
        Ok(Expert { enc, head })
    }

    /// `{name}_decoder.*` layers mirroring `widths`, then `{name}_output`.
    fn decoder(
        &mut self,
        name: &str,
        widths: &[usize],
        output: usize,
    ) -> candle_core::Result<(Mlp, Linear)> {
        let rev: Vec<usize> = widths.iter().rev().copied().collect();
        let mlp = Mlp::new(
            &format!("{name}_decoder"),
            self.latent,
            &rev,
            self.hidden,
            self.rng,
            self.device,
            self.params,
        )?;
        let out = init::linear(
            &format!("{name}_output"),
            mlp.out_width,
            output,
            self.rng,
            self.device,
            self.params,
        )?;
        Ok((mlp, out))
    }
}

impl Expert {
    fn forward(&self, x: &Tensor, mode: &mut Mode) -> candle_core::Result<(Tensor, Tensor)> {
        self.head.forward(&self.enc.forward(x, mode)?)
    }
}

/// Product of Gaussian experts with the N(0, I) prior; `mask` (batch × 1,
/// 0 or 1) switches the lyrics expert off for tracks without lyrics.
pub fn product_of_experts(
    audio: (&Tensor, &Tensor),
    lyrics: (&Tensor, &Tensor),
    mask: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let pa = audio.1.neg()?.exp()?;
    let pl = lyrics.1.neg()?.exp()?.broadcast_mul(mask)?;
    let precision = ((&pa + &pl)? + 1.0)?;
    let mu = ((audio.0 * &pa)? + (lyrics.0 * &pl)?)?.div(&precision)?;
    Ok((mu, precision.log()?.neg()?))
}

impl HybridVae {
    fn hidden(&self) -> Hidden {
        Hidden {
            act: self.p.activation,
            norm: self.p.norm,
            dropout: self.p.dropout,
        }
    }
}

impl Representer for HybridVae {
    fn kind(&self) -> &'static str {
        "hybrid_vae"
    }
    fn params(&self) -> serde_json::Value {
        train::merged_params(&self.p, &self.training)
    }
    fn uses_seed(&self) -> bool {
        true
    }
    fn accepts(&self, audio: Option<FeatureShape>, has_text: bool) -> bool {
        audio.is_some() && has_text
    }
    fn needs(&self) -> &'static str {
        "it needs audio features plus a `lyrics = {…}` block"
    }

    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted> {
        let Some(text) = &input.layout.text else {
            bail!("hybrid_vae needs a feature set with lyrics (`lyrics = …` in the feature set)");
        };
        let (n, d) = input.x.dim();
        let da = input.layout.audio_dim();
        if da == 0 || da + text.dim != d {
            bail!(
                "hybrid_vae: expected {da} audio + {} lyrics columns, got {d}",
                text.dim
            );
        }
        let audio_x = input.x.slice(ndarray::s![.., ..da]).to_owned();
        let lyrics_x = input.x.slice(ndarray::s![.., da..]).to_owned();
        self.p
            .audio_loss
            .check_inputs(&audio_x)
            .map_err(|e| anyhow::anyhow!("audio: {e}"))?;
        self.p
            .lyrics_loss
            .check_inputs(&lyrics_x)
            .map_err(|e| anyhow::anyhow!("lyrics: {e}"))?;
        let with_lyrics = text.present.iter().filter(|&&p| p).count();
        if with_lyrics == 0 {
            bail!("no track has lyrics: hybrid_vae has nothing to fuse");
        }
        let device = input.device;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(input.seed);
        let mut params = Vec::new();
        let mut b = Builder {
            hidden: self.hidden(),
            latent: self.p.latent_dim,
            rng: &mut rng,
            device,
            params: &mut params,
        };
        let net = Net {
            audio: b.expert("audio", da, &self.p.audio_hidden)?,
            lyrics: b.expert("lyrics", text.dim, &self.p.lyrics_hidden)?,
            audio_dec: b.decoder("audio", &self.p.audio_hidden, da)?,
            lyrics_dec: b.decoder("lyrics", &self.p.lyrics_hidden, text.dim)?,
        };
        let xa = to_tensor(&audio_x, device)?;
        let xl = to_tensor(&lyrics_x, device)?;
        let mask: Vec<f32> = text.present.iter().map(|&p| p as u8 as f32).collect();
        let mask = Tensor::from_vec(mask, (n, 1), device)?;
        let weighting = KlWeighting::Beta {
            beta: self.p.beta,
            warmup: self.p.kl_warmup.unwrap_or(0) as f64,
        };
        let encode = |rows: &Tensor, mode: &mut Mode| -> candle_core::Result<(Tensor, Tensor)> {
            let a = net.audio.forward(&xa.index_select(rows, 0)?, mode)?;
            let l = net.lyrics.forward(&xl.index_select(rows, 0)?, mode)?;
            product_of_experts((&a.0, &a.1), (&l.0, &l.1), &mask.index_select(rows, 0)?)
        };
        let (wa, wl) = (self.p.audio_weight, self.p.lyrics_weight);
        let (la, ll) = (self.p.audio_loss, self.p.lyrics_loss);
        let history = train::fit(
            n,
            &params,
            &self.training.config(),
            &mut rng,
            device,
            input.observer,
            |step, mode| {
                let (mu, logvar) = encode(step.rows, mode)?;
                let z = layers::reparameterize(&mu, &logvar, mode)?;
                let ra = net
                    .audio_dec
                    .1
                    .forward(&net.audio_dec.0.forward(&z, mode)?)?;
                let rl = net
                    .lyrics_dec
                    .1
                    .forward(&net.lyrics_dec.0.forward(&z, mode)?)?;
                let mb = mask.index_select(step.rows, 0)?.squeeze(D::Minus1)?;
                let audio_rec = la
                    .per_row(&ra, &xa.index_select(step.rows, 0)?)?
                    .mean_all()?;
                // Mean over the batch's rows, lyrics counted only where present.
                let lyrics_rec = (ll.per_row(&rl, &xl.index_select(step.rows, 0)?)? * &mb)?
                    .sum_all()?
                    .affine(1.0 / step.rows.dim(0)? as f64, 0.0)?;
                let reconstruction = ((&audio_rec * wa)? + (&lyrics_rec * wl)?)?;
                let kl = kl_per_row(&mu, &logvar)?.mean_all()?;
                Ok(BatchLoss {
                    total: (&reconstruction + weighting.apply(&kl, step.progress)?)?,
                    reconstruction,
                    kl,
                })
            },
        )?;
        let latent = encode_all(n, device, &mut rng, |idx, mode| Ok(encode(idx, mode)?.0))?;
        let recon = Reconstruction::build(input.x, input.layout, |idx| {
            let idx = Tensor::from_slice(idx, idx.len(), device)?;
            let mut mode = Mode {
                train: false,
                rng: &mut rng,
            };
            let (mu, _) = encode(&idx, &mut mode)?;
            to_array(&net.decode(&mu, la, ll, &mut mode)?)
        })?;
        let mut config = self.params();
        config["audio_dim"] = serde_json::json!(da);
        config["lyrics_dim"] = serde_json::json!(text.dim);
        train::save_checkpoint(&params, &config, out_dir)?;
        Ok(Fitted {
            latent,
            history,
            recon: Some(recon),
        })
    }

    fn load_generator(
        &self,
        dir: &Path,
        device: &candle_core::Device,
    ) -> Result<Option<Box<dyn Generator>>> {
        let config = generate::read_config(dir)?;
        let da = generate::config_usize(&config, "audio_dim")?;
        let dl = generate::config_usize(&config, "lyrics_dim")?;
        // Built in fit's order, so every layer gets its own name; the
        // initial values are overwritten by the checkpoint's.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut params = Vec::new();
        let mut b = Builder {
            hidden: self.hidden(),
            latent: self.p.latent_dim,
            rng: &mut rng,
            device,
            params: &mut params,
        };
        let net = Net {
            audio: b.expert("audio", da, &self.p.audio_hidden)?,
            lyrics: b.expert("lyrics", dl, &self.p.lyrics_hidden)?,
            audio_dec: b.decoder("audio", &self.p.audio_hidden, da)?,
            lyrics_dec: b.decoder("lyrics", &self.p.lyrics_hidden, dl)?,
        };
        generate::load_params(&params, dir, device)?;
        Ok(Some(Box::new(HybridGenerator {
            net,
            latent: self.p.latent_dim,
            losses: (self.p.audio_loss, self.p.lyrics_loss),
        })))
    }
}

impl Net {
    /// Both decoders' mean outputs, audio columns then lyrics columns.
    fn decode(
        &self,
        z: &Tensor,
        audio_loss: ReconLoss,
        lyrics_loss: ReconLoss,
        mode: &mut Mode,
    ) -> candle_core::Result<Tensor> {
        let ra = self
            .audio_dec
            .1
            .forward(&self.audio_dec.0.forward(z, mode)?)?;
        let rl = self
            .lyrics_dec
            .1
            .forward(&self.lyrics_dec.0.forward(z, mode)?)?;
        Tensor::cat(&[audio_loss.mean(&ra)?, lyrics_loss.mean(&rl)?], 1)
    }
}

/// A hybrid model's decoders loaded from its checkpoint.
struct HybridGenerator {
    net: Net,
    latent: usize,
    losses: (ReconLoss, ReconLoss),
}

impl Generator for HybridGenerator {
    fn latent_dim(&self) -> usize {
        self.latent
    }
    fn decode(&self, z: &Tensor, _condition: Option<&Tensor>) -> Result<Tensor> {
        // Evaluation mode draws nothing; the generator is only a placeholder.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut mode = Mode {
            train: false,
            rng: &mut rng,
        };
        Ok(self
            .net
            .decode(z, self.losses.0, self.losses.1, &mut mode)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the lyrics expert masked out, the fusion is the audio expert
    /// times the prior; with both, precisions add.
    #[test]
    fn product_of_experts_follows_the_formula() {
        let dev = candle_core::Device::Cpu;
        let t = |v: f32| Tensor::new(&[[v]], &dev).unwrap();
        let v = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
        // Audio: μ = 2, σ² = 1 (precision 1); lyrics: μ = −1, σ² = 0.5 (precision 2).
        let (mu, lv) =
            product_of_experts((&t(2.0), &t(0.0)), (&t(-1.0), &t(0.5f32.ln())), &t(0.0)).unwrap();
        assert!((v(mu) - 1.0).abs() < 1e-6); // (2·1) / (1 + 1)
        assert!((v(lv) - (0.5f32).ln()).abs() < 1e-6);
        let (mu, lv) =
            product_of_experts((&t(2.0), &t(0.0)), (&t(-1.0), &t(0.5f32.ln())), &t(1.0)).unwrap();
        assert!((v(mu) - 0.0).abs() < 1e-6); // (2 − 2) / 4
        assert!((v(lv) - (0.25f32).ln()).abs() < 1e-6);
    }
}
