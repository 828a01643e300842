//! AdamW (Loshchilov & Hutter), the update PyTorch's `torch.optim.AdamW`
//! makes, with optional global gradient-norm clipping.
//!
//! On the CPU the update is one fused pass per parameter, in place, written
//! by hand: candle's own `AdamW` builds about ten temporary tensors per
//! parameter per step, which for the small models studied here costs more
//! than the forward and backward passes together. On a GPU candle's
//! optimiser is used; both compute the same update.

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Storage, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::dsp::simd::multiversion;

pub struct Adam {
    cfg: ParamsAdamW,
    backend: Backend,
}

enum Backend {
    Fused { slots: Vec<Slot>, step: i32 },
    Candle { vars: Vec<Var>, opt: Box<AdamW> },
}

/// One parameter with its first and second moment estimates.
struct Slot {
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    pub fn new(vars: Vec<Var>, lr: f64, weight_decay: f64) -> Result<Adam> {
        let cfg = ParamsAdamW {
            lr,
            weight_decay,
            ..Default::default()
        };
        let on_cpu = vars.iter().all(|v| v.device().is_cpu());
        let backend = if on_cpu {
            Backend::Fused {
                slots: vars
                    .into_iter()
                    .map(|var| {
                        let n = var.elem_count();
                        Slot {
                            var,
                            m: vec![0.0; n],
                            v: vec![0.0; n],
                        }
                    })
                    .collect(),
                step: 0,
            }
        } else {
            Backend::Candle {
                opt: Box::new(AdamW::new(vars.clone(), cfg.clone())?),
                vars,
            }
        };
        Ok(Adam { cfg, backend })
    }

    /// Applies one update from `grads`, first scaling them so that their
    /// global L2 norm is at most `clip` (as `clip_grad_norm_`). Returns the
    /// norm before clipping (NaN when not clipping).
    pub fn step(&mut self, grads: &mut GradStore, clip: Option<f64>) -> Result<f64> {
        match &mut self.backend {
            Backend::Fused { slots, step } => {
                let norm = norm_if_clipping(grads, slots.iter().map(|s| &s.var), clip)?;
                let scale = clip_scale(norm, clip);
                *step += 1;
                let c = &self.cfg;
                for s in slots.iter_mut() {
                    let Some(g) = grads.get(s.var.as_tensor()) else {
                        continue;
                    };
                    let kernel = AdamKernel {
                        lr: c.lr as f32,
                        decay: (1.0 - c.lr * c.weight_decay) as f32,
                        beta1: c.beta1 as f32,
                        beta2: c.beta2 as f32,
                        eps: c.eps as f32,
                        bias1: (1.0 - c.beta1.powi(*step)) as f32,
                        bias2_sqrt: (1.0 - c.beta2.powi(*step)).sqrt() as f32,
                        scale: scale as f32,
                        moments: RefCell::new((&mut s.m, &mut s.v)),
                    };
                    s.var.as_tensor().inplace_op2(g, &kernel)?;
                }
                Ok(norm)
            }
            Backend::Candle { vars, opt } => {
                let norm = norm_if_clipping(grads, vars.iter(), clip)?;
                let scale = clip_scale(norm, clip);
                if scale != 1.0 {
                    for v in vars.iter() {
                        if let Some(g) = grads.remove(v.as_tensor()) {
                            grads.insert(v.as_tensor(), (g * scale)?);
                        }
                    }
                }
                opt.step(grads)?;
                Ok(norm)
            }
        }
    }
}

/// The global L2 norm of the gradients, computed only when clipping needs
/// it (a pass over every gradient); NaN otherwise.
fn norm_if_clipping<'a>(
    grads: &GradStore,
    vars: impl Iterator<Item = &'a Var>,
    clip: Option<f64>,
) -> Result<f64> {
    if clip.is_none() {
        return Ok(f64::NAN);
    }
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += host_sum_sq(g)?;
        }
    }
    Ok(sq.sqrt())
}

fn clip_scale(norm: f64, clip: Option<f64>) -> f64 {
    match clip {
        // PyTorch's clip_grad_norm_: max_norm / (norm + 1e-6), capped at 1.
        Some(max) if norm > max => max / (norm + 1e-6),
        _ => 1.0,
    }
}

fn host_sum_sq(t: &Tensor) -> Result<f64> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => {
            Ok(v[a..b].iter().map(|&g| (g as f64) * (g as f64)).sum())
        }
        _ => {
            drop(storage);
            t.sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()
        }
    }
}

/// The fused per-parameter update, in place on the parameter's storage.
struct AdamKernel<'a> {
    lr: f32,
    /// 1 − lr · weight_decay: decoupled weight decay.
    decay: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bias1: f32,
    bias2_sqrt: f32,
    /// Gradient scale from norm clipping.
    scale: f32,
    moments: RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
}

impl InplaceOp2 for AdamKernel<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("fused-adamw: parameters and gradients must be f32");
        };
        let (Some((pa, pb)), Some((ga, gb))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("fused-adamw: parameters and gradients must be contiguous");
        };
        let p = &mut p[pa..pb];
        let g = &g[ga..gb];
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        let c = Constants {
            step: self.lr / self.bias1,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            bias2_sqrt: self.bias2_sqrt,
            decay: self.decay,
            scale: self.scale,
        };
        adamw(p, g, m, v, c);
        Ok(())
    }
}

/// What one AdamW step needs besides the tensors.
#[derive(Clone, Copy)]
struct Constants {
    /// lr / (1 − β₁ᵗ).
    step: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bias2_sqrt: f32,
    decay: f32,
    scale: f32,
}

multiversion! {
    /// The update of one parameter, in place. Zipped iterators: no bounds
    /// checks, so the loop vectorises (sqrt and division included).
    fn adamw(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: Constants) {
        let (b1, b2) = (c.beta1, c.beta2);
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g * c.scale;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / c.bias2_sqrt + c.eps;
            *p = *p * c.decay - c.step * *m / denom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The fused update and candle's AdamW agree step for step.
    #[test]
    fn fused_matches_candle_adamw() {
        let dev = Device::Cpu;
        let init = [0.5f32, -1.5, 2.0, 0.1, -0.3, 0.7];
        let target = Tensor::new(&[1.0f32, 0.0, -1.0, 2.0, 0.5, -0.5], &dev).unwrap();
        let a = Var::new(&init, &dev).unwrap();
        let b = Var::new(&init, &dev).unwrap();
        let mut fused = Adam::new(vec![a.clone()], 0.05, 0.01).unwrap();
        let mut reference = AdamW::new(
            vec![b.clone()],
            ParamsAdamW {
                lr: 0.05,
                weight_decay: 0.01,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..20 {
            let loss = (a.as_tensor() - &target)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            fused.step(&mut loss.backward().unwrap(), None).unwrap();
            let loss = (b.as_tensor() - &target)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            reference.backward_step(&loss).unwrap();
        }
        let a: Vec<f32> = a.as_tensor().to_vec1().unwrap();
        let b: Vec<f32> = b.as_tensor().to_vec1().unwrap();
        for (x, y) in a.iter().zip(&b) {
            // Same math, different association of the same f32 operations.
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn clipping_bounds_the_step() {
        assert_eq!(clip_scale(0.5, Some(1.0)), 1.0);
        assert!((clip_scale(10.0, Some(1.0)) * 10.0 - 1.0).abs() < 1e-6);
        assert_eq!(clip_scale(10.0, None), 1.0);
    }
}
