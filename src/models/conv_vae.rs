//! `conv_vae`: a convolutional VAE over feature sequences.
//!
//! - `conv = "1d"`: 1-D convolutions over time with the feature rows as
//!   channels (e.g. MFCC 40 × 300: 40 channels, 300 frames);
//! - `conv = "2d"`: 2-D convolutions over the rows × frames image with one
//!   input channel (e.g. a 64 × 256 mel-spectrogram in dB).
//!
//! Each encoder stage is a stride-2 convolution with an odd kernel and
//! "same" padding, so a length L becomes ⌈L/2⌉; then a dense Gaussian head.
//! The decoder is a dense layer back to the last feature map and stride-2
//! transposed convolutions, each cropped to the length its encoder stage
//! saw, so the output has exactly the input's shape for any frame count,
//! odd ones included. (Cropping is what PyTorch's `padding` and
//! `output_padding` do; done explicitly it works per axis.)
//!
//! Both kinds run as 2-D convolutions (1-D ones with a kernel height of 1)
//! because candle has no gradient for its 1-D transposed convolution. The
//! checkpoint stores 1-D kernels in PyTorch's Conv1d layout.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::Tensor;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::conv_ops;
use super::generate::{self, Generator};
use super::init::{self, Param};
use super::layers::{self, Activation, GaussianHead};
use super::linear::Linear;
use super::loss::{kl_per_row, KlWeighting, ReconLoss};
use super::recon::{to_array, Reconstruction};
use super::train::{self, BatchLoss, TrainingParams};
use super::vae::{check_net, encode_all, to_tensor};
use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConvDim {
    #[serde(rename = "1d")]
    OneD,
    #[serde(rename = "2d")]
    TwoD,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvParams {
    pub kind: String,
    /// 1d: over frames, feature rows as channels; 2d: over the rows × frames image.
    #[serde(default = "d_conv")]
    pub conv: ConvDim,
    /// Output channels of each encoder stage; the decoder mirrors them.
    #[serde(default = "d_channels")]
    pub channels: Vec<usize>,
    /// Odd kernel length (1-D) or side (2-D).
    #[serde(default = "d_kernel")]
    pub kernel_size: usize,
    /// Size of the latent code z.
    #[serde(default = "d_latent")]
    pub latent_dim: usize,
    /// Activation after each convolution.
    #[serde(default = "d_act")]
    pub activation: Activation,
    /// Reconstruction loss: mse, or bce for inputs in [0, 1].
    #[serde(default)]
    pub recon_loss: ReconLoss,
    /// Epochs over which the KL weight rises linearly from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_warmup: Option<usize>,
}

fn d_conv() -> ConvDim {
    ConvDim::OneD
}
fn d_channels() -> Vec<usize> {
    vec![32, 64]
}
fn d_kernel() -> usize {
    5
}
fn d_latent() -> usize {
    16
}
fn d_act() -> Activation {
    Activation::Relu
}

/// Its own keys and the training keys.
pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    let mut s = crate::spec::schema::object::<ConvParams>(gen);
    crate::spec::schema::merge_properties(
        &mut s,
        &crate::spec::schema::object::<TrainingParams>(gen),
    );
    s
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    let (training, rest) = TrainingParams::take(table, path)?;
    let p: ConvParams = crate::spec::typed_table(&rest, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    check_net(&p.channels, p.latent_dim, 0.0, path)?;
    if p.channels.is_empty() {
        return Err(KeyError::new(&at("channels"), "needs at least one stage"));
    }
    if p.kernel_size > 255 {
        return Err(KeyError::new(&at("kernel_size"), "must be at most 255"));
    }
    if p.kernel_size % 2 == 0 {
        return Err(KeyError::new(
            &at("kernel_size"),
            "must be odd (3, 5, 7 …) so that padding keeps stages centred",
        ));
    }
    Ok(Box::new(ConvVae { p, training }))
}

pub struct ConvVae {
    pub p: ConvParams,
    pub training: TrainingParams,
}

/// The input as an image: (channels, height, width) per track.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Geometry {
    channels: usize,
    height: usize,
    width: usize,
}

struct Stage {
    /// Kernel in 4-D (out, in, kh, kw) for the forward pass.
    kernel: Tensor,
    bias: Tensor,
}

struct Net {
    conv: ConvDim,
    pad: usize,
    act: Activation,
    input: Geometry,
    /// (height, width) each encoder stage receives; the decoder crops to them.
    sizes: Vec<(usize, usize)>,
    enc: Vec<Stage>,
    head: GaussianHead,
    /// Latent → flattened last feature map.
    expand: Linear,
    /// Transposed stages, last one producing the input's channels.
    dec: Vec<Stage>,
    last_map: Geometry,
}

fn halve(n: usize) -> usize {
    n.div_ceil(2)
}

impl ConvVae {
    fn geometry(&self, rows: usize, frames: usize) -> Geometry {
        match self.p.conv {
            ConvDim::OneD => Geometry {
                channels: rows,
                height: 1,
                width: frames,
            },
            ConvDim::TwoD => Geometry {
                channels: 1,
                height: rows,
                width: frames,
            },
        }
    }

    fn build(
        &self,
        input: Geometry,
        rng: &mut Xoshiro256PlusPlus,
        device: &candle_core::Device,
        params: &mut Vec<Param>,
    ) -> candle_core::Result<Net> {
        let k = self.p.kernel_size;
        let kh = if self.p.conv == ConvDim::OneD { 1 } else { k };
        // PyTorch's layouts: Conv1d (out, in, k), Conv2d (out, in, k, k);
        // transposed ones (in, out, …).
        let shape = |a: usize, b: usize| -> Vec<usize> {
            match self.p.conv {
                ConvDim::OneD => vec![a, b, k],
                ConvDim::TwoD => vec![a, b, k, k],
            }
        };
        let mut enc = Vec::new();
        let mut sizes = Vec::new();
        let (mut c, mut h, mut w) = (input.channels, input.height, input.width);
        for (i, &out) in self.p.channels.iter().enumerate() {
            let (kernel, bias) = init::conv_kernel(
                &format!("encoder.{i}"),
                &shape(out, c),
                out,
                c * kh * k,
                rng,
                device,
                params,
            )?;
            enc.push(Stage {
                kernel: kernel.reshape((out, c, kh, k))?,
                bias,
            });
            sizes.push((h, w));
            c = out;
            if self.p.conv == ConvDim::TwoD {
                h = halve(h);
            }
            w = halve(w);
        }
        let last_map = Geometry {
            channels: c,
            height: h,
            width: w,
        };
        let flat = c * h * w;
        let head = GaussianHead::new(flat, self.p.latent_dim, rng, device, params)?;
        let expand = init::linear("expand", self.p.latent_dim, flat, rng, device, params)?;
        let mut dec = Vec::new();
        let outs: Vec<usize> = self
            .p
            .channels
            .iter()
            .rev()
            .skip(1)
            .copied()
            .chain([input.channels])
            .collect();
        for (i, &out) in outs.iter().enumerate() {
            // PyTorch's ConvTranspose fan_in is computed from weight dim 1 (out).
            let (kernel, bias) = init::conv_kernel(
                &format!("decoder.{i}"),
                &shape(c, out),
                out,
                out * kh * k,
                rng,
                device,
                params,
            )?;
            dec.push(Stage {
                kernel: kernel.reshape((c, out, kh, k))?,
                bias,
            });
            c = out;
        }
        Ok(Net {
            conv: self.p.conv,
            pad: k / 2,
            act: self.p.activation,
            input,
            sizes,
            enc,
            head,
            expand,
            dec,
            last_map,
        })
    }
}

impl Net {
    /// (batch, values) rows → (batch, channels, height, width).
    fn image(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let g = self.input;
        x.reshape((x.dim(0)?, g.channels, g.height, g.width))
    }

    /// "Same" zero padding of (height, width): none on the height of 1-D
    /// convolutions.
    fn padding(&self) -> (usize, usize) {
        match self.conv {
            ConvDim::OneD => (0, self.pad),
            ConvDim::TwoD => (self.pad, self.pad),
        }
    }

    fn encode(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let mut h = self.image(x)?;
        for s in &self.enc {
            h = conv_ops::conv2d(&h, &s.kernel, &s.bias, 2, self.padding(), Some(self.act))?;
        }
        self.head.forward(&h.flatten_from(1)?)
    }

    fn decode(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        let g = self.last_map;
        let mut h = self.expand.forward_act(z, self.act)?.reshape((
            z.dim(0)?,
            g.channels,
            g.height,
            g.width,
        ))?;
        let last = self.dec.len() - 1;
        for (i, s) in self.dec.iter().enumerate() {
            // Back to the size that stage's encoder input had.
            let size = self.sizes[self.sizes.len() - 1 - i];
            let act = (i != last).then_some(self.act);
            h = conv_ops::conv_transpose2d(&h, &s.kernel, &s.bias, 2, self.padding(), size, act)?;
        }
        h.flatten_from(1)
    }
}

impl Representer for ConvVae {
    fn kind(&self) -> &'static str {
        "conv_vae"
    }
    fn params(&self) -> serde_json::Value {
        train::merged_params(&self.p, &self.training)
    }
    /// 2: the CPU convolutions became im2col + gemm CustomOps
    /// (`conv_ops.rs`), whose sums run in another order than candle's
    /// direct loops: a trained model differs in its last bits, so results
    /// cached by version 1 are not mixed with new ones.
    fn version(&self) -> u32 {
        2
    }

    fn uses_seed(&self) -> bool {
        true
    }
    fn accepts(&self, audio: Option<FeatureShape>, has_text: bool) -> bool {
        matches!(audio, Some(FeatureShape::Sequence { .. })) && !has_text
    }
    fn needs(&self) -> &'static str {
        "it needs a `kind = \"sequence\"` feature set without lyrics"
    }

    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted> {
        let Some(FeatureShape::Sequence { rows, frames }) = input.layout.audio else {
            bail!("conv_vae needs a sequence feature set (kind = \"sequence\")");
        };
        let (n, d) = input.x.dim();
        if d != rows * frames {
            bail!("expected {rows} × {frames} values per track, got {d}");
        }
        self.p
            .recon_loss
            .check_inputs(input.x)
            .map_err(anyhow::Error::msg)?;
        let device = input.device;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(input.seed);
        let mut params = Vec::new();
        let net = self.build(self.geometry(rows, frames), &mut rng, device, &mut params)?;
        let x = to_tensor(input.x, device)?;
        let weighting = KlWeighting::Beta {
            beta: 1.0,
            warmup: self.p.kl_warmup.unwrap_or(0) as f64,
        };
        let recon = self.p.recon_loss;
        let history = train::fit(
            n,
            &params,
            &self.training.config(),
            &mut rng,
            device,
            input.observer,
            |step, mode| {
                let xb = x.index_select(step.rows, 0)?;
                let (mu, logvar) = net.encode(&xb)?;
                let z = layers::reparameterize(&mu, &logvar, mode)?;
                let reconstruction = recon.per_row(&net.decode(&z)?, &xb)?.mean_all()?;
                let kl = kl_per_row(&mu, &logvar)?.mean_all()?;
                Ok(BatchLoss {
                    total: (&reconstruction + weighting.apply(&kl, step.progress)?)?,
                    reconstruction,
                    kl,
                })
            },
        )?;
        let latent = encode_all(n, device, &mut rng, |idx, _| {
            Ok(net.encode(&x.index_select(idx, 0)?)?.0)
        })?;
        let recon = Reconstruction::build(input.x, input.layout, |idx| {
            let idx = Tensor::from_slice(idx, idx.len(), device)?;
            let (mu, _) = net.encode(&x.index_select(&idx, 0)?)?;
            to_array(&self.p.recon_loss.mean(&net.decode(&mu)?)?)
        })?;
        let mut config = self.params();
        config["input_shape"] = serde_json::json!([rows, frames]);
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
        let shape: [usize; 2] = serde_json::from_value(
            config
                .get("input_shape")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        )
        .map_err(|_| anyhow::anyhow!("config.json has no `input_shape` [rows, frames]"))?;
        // The initial values are overwritten by the checkpoint's.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut params = Vec::new();
        let net = self.build(
            self.geometry(shape[0], shape[1]),
            &mut rng,
            device,
            &mut params,
        )?;
        generate::load_params(&params, dir, device)?;
        Ok(Some(Box::new(ConvGenerator {
            net,
            latent: self.p.latent_dim,
            recon_loss: self.p.recon_loss,
        })))
    }
}

/// A convolutional model's decoder loaded from its checkpoint.
struct ConvGenerator {
    net: Net,
    latent: usize,
    recon_loss: ReconLoss,
}

impl Generator for ConvGenerator {
    fn latent_dim(&self) -> usize {
        self.latent
    }
    fn decode(&self, z: &Tensor, _condition: Option<&Tensor>) -> Result<Tensor> {
        Ok(self.recon_loss.mean(&self.net.decode(z)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(conv: &str) -> ConvVae {
        let t: toml::Table = format!("kind = \"conv_vae\"\nconv = \"{conv}\"\nchannels = [4, 6]\nkernel_size = 3\nlatent_dim = 3\nepochs = 1")
            .parse()
            .unwrap();
        let (training, rest) = TrainingParams::take(&t, &[]).unwrap();
        ConvVae {
            p: crate::spec::typed_table(&rest, &[]).unwrap(),
            training,
        }
    }

    /// The decoder restores the exact input shape, odd lengths included.
    #[test]
    fn shapes_round_trip_for_odd_lengths() {
        let dev = candle_core::Device::Cpu;
        for (conv, rows, frames) in [
            ("1d", 5, 37),
            ("1d", 3, 8),
            ("2d", 7, 13),
            ("2d", 6, 31),
            ("2d", 1, 2),
        ] {
            let m = model(conv);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
            let mut params = Vec::new();
            let net = m
                .build(m.geometry(rows, frames), &mut rng, &dev, &mut params)
                .unwrap();
            let x = Tensor::zeros((2, rows * frames), candle_core::DType::F32, &dev).unwrap();
            let (mu, _) = net.encode(&x).unwrap();
            assert_eq!(mu.dims(), &[2, 3]);
            let y = net.decode(&mu).unwrap();
            assert_eq!(y.dims(), &[2, rows * frames], "{conv} {rows}x{frames}");
        }
    }

    /// Parameter names and shapes follow PyTorch's Conv1d / ConvTranspose1d.
    #[test]
    fn checkpoint_layout_is_pytorchs() {
        let dev = candle_core::Device::Cpu;
        let m = model("1d");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut params = Vec::new();
        m.build(m.geometry(5, 9), &mut rng, &dev, &mut params)
            .unwrap();
        let shape = |name: &str| {
            params
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .var
                .dims()
                .to_vec()
        };
        assert_eq!(shape("encoder.0.weight"), vec![4, 5, 3]);
        assert_eq!(shape("decoder.0.weight"), vec![6, 4, 3]);
        assert_eq!(shape("decoder.1.weight"), vec![4, 5, 3]);
    }
}
