//! Seeded parameter initialisation. candle's CPU generator cannot be seeded,
//! so every weight (and the reparameterisation noise) comes from our own
//! generator and is uploaded as host values: same seed, same latents.

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::Linear;
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A named trainable parameter, kept for the optimiser and the checkpoint.
pub struct Param {
    pub name: String,
    pub var: Var,
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
    let w: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    let b: Vec<f32> = (0..fan_out).map(|_| rng.gen_range(-bound..bound)).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w, (fan_out, fan_in), device)?)?;
    let b = Var::from_tensor(&Tensor::from_vec(b, fan_out, device)?)?;
    let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
    params.push(Param {
        name: format!("{name}.weight"),
        var: w,
    });
    params.push(Param {
        name: format!("{name}.bias"),
        var: b,
    });
    Ok(layer)
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
