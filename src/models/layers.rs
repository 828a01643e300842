//! Building blocks shared by the models: activations, normalisation,
//! seeded dropout and a multi-layer perceptron made of them.
//!
//! Batch norm and dropout are written here rather than taken from candle-nn
//! because candle's dropout draws from its unseedable generator and its batch
//! norm wants a VarBuilder; ours take the model's own seeded generator and
//! its parameter list, so same seed → same latents holds.

use std::cell::RefCell;

use candle_core::{Device, Result, Tensor, Var, D};
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::init::{self, Param};
use super::linear::Linear;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu,
    Gelu,
    Tanh,
    Silu,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, 0.01),
            Activation::Gelu => x.gelu_erf(),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x.silu(),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    #[default]
    None,
    /// Over the batch, with running statistics for evaluation (PyTorch's
    /// BatchNorm1d: momentum 0.1, eps 1e-5).
    Batch,
    /// Over the features of each row (PyTorch's LayerNorm, eps 1e-5).
    Layer,
}

/// Whether a forward pass trains (batch statistics, dropout) or evaluates.
pub struct Mode<'a> {
    pub train: bool,
    pub rng: &'a mut Xoshiro256PlusPlus,
}

const NORM_EPS: f64 = 1e-5;

pub struct BatchNorm {
    gamma: Tensor,
    beta: Tensor,
    running_mean: Var,
    running_var: Var,
    /// Batches seen, for nothing but the checkpoint (as PyTorch).
    seen: RefCell<u64>,
}

impl BatchNorm {
    fn new(name: &str, width: usize, device: &Device, params: &mut Vec<Param>) -> Result<Self> {
        let gamma = init::param(
            &format!("{name}.weight"),
            Tensor::ones(width, candle_core::DType::F32, device)?,
            params,
        )?;
        let beta = init::param(
            &format!("{name}.bias"),
            Tensor::zeros(width, candle_core::DType::F32, device)?,
            params,
        )?;
        let running_mean = init::buffer(
            &format!("{name}.running_mean"),
            Tensor::zeros(width, candle_core::DType::F32, device)?,
            params,
        )?;
        let running_var = init::buffer(
            &format!("{name}.running_var"),
            Tensor::ones(width, candle_core::DType::F32, device)?,
            params,
        )?;
        Ok(BatchNorm {
            gamma,
            beta,
            running_mean,
            running_var,
            seen: RefCell::new(0),
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let n = x.dim(0)?;
        let xn = if train && n > 1 {
            let mean = x.mean_keepdim(0)?;
            let centred = x.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(0)?;
            // Running statistics use the unbiased variance, as PyTorch.
            let momentum = 0.1;
            let m = mean.squeeze(0)?.detach();
            let v = (var.squeeze(0)?.detach() * (n as f64 / (n as f64 - 1.0)))?;
            self.running_mean
                .set(&((self.running_mean.as_tensor() * (1.0 - momentum))? + (m * momentum)?)?)?;
            self.running_var
                .set(&((self.running_var.as_tensor() * (1.0 - momentum))? + (v * momentum)?)?)?;
            *self.seen.borrow_mut() += 1;
            centred.broadcast_div(&(var + NORM_EPS)?.sqrt()?)?
        } else {
            let mean = self.running_mean.as_tensor().detach();
            let var = self.running_var.as_tensor().detach();
            x.broadcast_sub(&mean)?
                .broadcast_div(&(var + NORM_EPS)?.sqrt()?)?
        };
        xn.broadcast_mul(&self.gamma)?.broadcast_add(&self.beta)
    }
}

pub struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl LayerNorm {
    fn new(name: &str, width: usize, device: &Device, params: &mut Vec<Param>) -> Result<Self> {
        Ok(LayerNorm {
            gamma: init::param(
                &format!("{name}.weight"),
                Tensor::ones(width, candle_core::DType::F32, device)?,
                params,
            )?,
            beta: init::param(
                &format!("{name}.bias"),
                Tensor::zeros(width, candle_core::DType::F32, device)?,
                params,
            )?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(var + NORM_EPS)?.sqrt()?)?
            .broadcast_mul(&self.gamma)?
            .broadcast_add(&self.beta)
    }
}

enum Norm {
    Batch(BatchNorm),
    Layer(LayerNorm),
}

/// Inverted dropout with a mask from the seeded generator: kept units are
/// scaled by 1 / (1 − p) in training, so evaluation is the identity.
pub fn dropout(x: &Tensor, p: f64, mode: &mut Mode) -> Result<Tensor> {
    if !mode.train || p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if mode.rng.gen::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
}

/// Linear → norm → activation → dropout: one hidden layer.
pub struct Dense {
    linear: Linear,
    norm: Option<Norm>,
    act: Activation,
    dropout: f64,
}

impl Dense {
    pub fn forward(&self, x: &Tensor, mode: &mut Mode) -> Result<Tensor> {
        let h = match &self.norm {
            Some(Norm::Batch(b)) => self
                .act
                .apply(&b.forward(&self.linear.forward(x)?, mode.train)?)?,
            Some(Norm::Layer(l)) => self.act.apply(&l.forward(&self.linear.forward(x)?)?)?,
            // Without a norm the activation runs fused with the product.
            None => self.linear.forward_act(x, self.act)?,
        };
        dropout(&h, self.dropout, mode)
    }
}

/// How the hidden layers of a perceptron are built.
#[derive(Debug, Clone, Copy)]
pub struct Hidden {
    pub act: Activation,
    pub norm: NormKind,
    pub dropout: f64,
}

/// Hidden layers of the given widths; parameter names `{name}.{i}.…` as in
/// a PyTorch `nn.Sequential`-style module list.
pub struct Mlp {
    layers: Vec<Dense>,
    pub out_width: usize,
}

impl Mlp {
    pub fn new(
        name: &str,
        input: usize,
        widths: &[usize],
        hidden: Hidden,
        rng: &mut Xoshiro256PlusPlus,
        device: &Device,
        params: &mut Vec<Param>,
    ) -> Result<Mlp> {
        let mut layers = Vec::new();
        let mut width = input;
        for (i, &w) in widths.iter().enumerate() {
            let prefix = format!("{name}.{i}");
            let linear = init::linear(&prefix, width, w, rng, device, params)?;
            let norm = match hidden.norm {
                NormKind::None => None,
                NormKind::Batch => Some(Norm::Batch(BatchNorm::new(
                    &format!("{prefix}.norm"),
                    w,
                    device,
                    params,
                )?)),
                NormKind::Layer => Some(Norm::Layer(LayerNorm::new(
                    &format!("{prefix}.norm"),
                    w,
                    device,
                    params,
                )?)),
            };
            layers.push(Dense {
                linear,
                norm,
                act: hidden.act,
                dropout: hidden.dropout,
            });
            width = w;
        }
        Ok(Mlp {
            layers,
            out_width: width,
        })
    }

    pub fn forward(&self, x: &Tensor, mode: &mut Mode) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h, mode)?;
        }
        Ok(h)
    }
}

/// The encoder's Gaussian head: μ and log σ² of q(z | x).
pub struct GaussianHead {
    mu: Linear,
    logvar: Linear,
}

impl GaussianHead {
    pub fn new(
        input: usize,
        latent: usize,
        rng: &mut Xoshiro256PlusPlus,
        device: &Device,
        params: &mut Vec<Param>,
    ) -> Result<Self> {
        Ok(GaussianHead {
            mu: init::linear("mu", input, latent, rng, device, params)?,
            logvar: init::linear("logvar", input, latent, rng, device, params)?,
        })
    }

    pub fn forward(&self, h: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.mu.forward(h)?, self.logvar.forward(h)?))
    }
}

/// z = μ + σ·ε with ε from the seeded generator while training; z = μ when
/// evaluating, so validation losses and latents carry no sampling noise.
pub fn reparameterize(mu: &Tensor, logvar: &Tensor, mode: &mut Mode) -> Result<Tensor> {
    if !mode.train {
        return Ok(mu.clone());
    }
    let eps = init::normal(mode.rng, mu.dims2()?, mu.device())?;
    mu + (logvar * 0.5)?.exp()?.mul(&eps)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(7)
    }

    #[test]
    fn batch_norm_standardises_in_training_and_tracks_running_stats() {
        let dev = Device::Cpu;
        let mut params = Vec::new();
        let bn = BatchNorm::new("bn", 2, &dev, &mut params).unwrap();
        let x = Tensor::new(&[[1f32, 10.0], [3.0, 20.0], [5.0, 30.0]], &dev).unwrap();
        let y: Vec<Vec<f32>> = bn.forward(&x, true).unwrap().to_vec2().unwrap();
        for c in 0..2 {
            let col: Vec<f32> = y.iter().map(|r| r[c]).collect();
            let mean: f32 = col.iter().sum::<f32>() / 3.0;
            let var: f32 = col.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 3.0;
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-3, "{col:?}");
        }
        // PyTorch: running_mean = 0.9·0 + 0.1·mean; running_var = 0.9·1 + 0.1·unbiased var.
        let rm: Vec<f32> = bn.running_mean.as_tensor().to_vec1().unwrap();
        let rv: Vec<f32> = bn.running_var.as_tensor().to_vec1().unwrap();
        assert!((rm[0] - 0.3).abs() < 1e-6 && (rm[1] - 2.0).abs() < 1e-5);
        assert!((rv[0] - (0.9 + 0.4)).abs() < 1e-5 && (rv[1] - (0.9 + 10.0)).abs() < 1e-4);
    }

    #[test]
    fn layer_norm_standardises_rows() {
        let dev = Device::Cpu;
        let mut params = Vec::new();
        let ln = LayerNorm::new("ln", 4, &dev, &mut params).unwrap();
        let x = Tensor::new(&[[1f32, 2.0, 3.0, 4.0]], &dev).unwrap();
        let y: Vec<f32> = ln
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let want = [-1.3416, -0.4472, 0.4472, 1.3416];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-3, "{y:?}");
        }
    }

    #[test]
    fn dropout_is_seeded_and_identity_in_evaluation() {
        let dev = Device::Cpu;
        let x = Tensor::ones((4, 50), candle_core::DType::F32, &dev).unwrap();
        let (mut r1, mut r2) = (rng(), rng());
        let a: Vec<f32> = dropout(
            &x,
            0.5,
            &mut Mode {
                train: true,
                rng: &mut r1,
            },
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
        let b: Vec<f32> = dropout(
            &x,
            0.5,
            &mut Mode {
                train: true,
                rng: &mut r2,
            },
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&v| v == 0.0 || v == 2.0));
        let zeros = a.iter().filter(|&&v| v == 0.0).count();
        assert!((60..140).contains(&zeros), "{zeros} of 200 dropped");
        let e = dropout(
            &x,
            0.5,
            &mut Mode {
                train: false,
                rng: &mut r1,
            },
        )
        .unwrap();
        assert_eq!(e.sum_all().unwrap().to_scalar::<f32>().unwrap(), 200.0);
    }
}
