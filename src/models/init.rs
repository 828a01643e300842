//! Seeded parameter initialisation. candle's CPU generator cannot be seeded,
//! so every weight (and the reparameterisation noise) comes from our own
//! generator and is uploaded as host values: same seed, same latents.

use super::linear::Linear;
use candle_core::{Device, Result, Tensor, Var};
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A named tensor of the model, kept for the checkpoint; trainable ones
/// also go to the optimiser (buffers such as batch-norm running statistics
/// do not).
pub struct Param {
    pub name: String,
    pub var: Var,
    pub trainable: bool,
}

/// Registers a trainable tensor with the given initial value.
pub fn param(name: &str, value: Tensor, params: &mut Vec<Param>) -> Result<Tensor> {
    let var = Var::from_tensor(&value)?;
    let t = var.as_tensor().clone();
    params.push(Param {
        name: name.to_string(),
        var,
        trainable: true,
    });
    Ok(t)
}

/// Registers a non-trainable state tensor (saved, never optimised).
pub fn buffer(name: &str, value: Tensor, params: &mut Vec<Param>) -> Result<Var> {
    let var = Var::from_tensor(&value)?;
    params.push(Param {
        name: name.to_string(),
        var: var.clone(),
        trainable: false,
    });
    Ok(var)
}

/// Uniform values in ±bound from the seeded generator.
pub fn uniform(rng: &mut Xoshiro256PlusPlus, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
}

/// PyTorch's `nn.Linear` default: weight and bias ~ U(−1/√fan_in, 1/√fan_in).
pub fn linear(
    name: &str,
    fan_in: usize,
    fan_out: usize,
    rng: &mut Xoshiro256PlusPlus,
    device: &Device,
    params: &mut Vec<Param>,
) -> Result<Linear> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let w = uniform(rng, fan_in * fan_out, bound);
    let b = uniform(rng, fan_out, bound);
    let w = param(
        &format!("{name}.weight"),
        Tensor::from_vec(w, (fan_out, fan_in), device)?,
        params,
    )?;
    let b = param(
        &format!("{name}.bias"),
        Tensor::from_vec(b, fan_out, device)?,
        params,
    )?;
    Ok(Linear::new(w, b))
}

/// A convolution kernel of `shape` (PyTorch layout) and its bias, initialised
/// as PyTorch's conv layers: U(±1/√fan_in) with fan_in = `fan_in`.
pub fn conv_kernel(
    name: &str,
    shape: &[usize],
    bias_len: usize,
    fan_in: usize,
    rng: &mut Xoshiro256PlusPlus,
    device: &Device,
    params: &mut Vec<Param>,
) -> Result<(Tensor, Tensor)> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let n: usize = shape.iter().product();
    let w = param(
        &format!("{name}.weight"),
        Tensor::from_vec(uniform(rng, n, bound), shape, device)?,
        params,
    )?;
    let b = param(
        &format!("{name}.bias"),
        Tensor::from_vec(uniform(rng, bias_len, bound), bias_len, device)?,
        params,
    )?;
    Ok((w, b))
}

/// Standard normal noise from the seeded generator (Box–Muller in f64).
pub fn normal(
    rng: &mut Xoshiro256PlusPlus,
    shape: (usize, usize),
    device: &Device,
) -> Result<Tensor> {
    let n = shape.0 * shape.1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        let u2: f64 = rng.gen();
        let r = (-2.0 * u1.ln()).sqrt();
        v.push((r * (std::f64::consts::TAU * u2).cos()) as f32);
        if v.len() < n {
            v.push((r * (std::f64::consts::TAU * u2).sin()) as f32);
        }
    }
    Tensor::from_vec(v, shape, device)
}
