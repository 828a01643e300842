//! The dense layer `y = x · Wᵀ + b`, optionally followed by ReLU, with
//! PyTorch's `nn.Linear` parameter layout (W is out × in).
//!
//! On the CPU the layer is one candle `CustomOp` written here: the forward
//! pass is one matrix product into a buffer pre-filled with the bias (and
//! the ReLU in the same pass over the output), and the backward pass forms
//! the three gradients directly. Built from candle's generic ops the same
//! layer is a matmul of a transposed view, a broadcast add and a ReLU
//! forward, and on the way back a dozen passes (a zero tensor and a
//! comparison for the ReLU mask, a transposed copy of the weight gradient,
//! a reduction for the bias), which at the batch sizes studied here (32
//! rows) cost more than the products themselves. On other devices the
//! layer is candle's own ops, so the GPU path is candle's.
//!
//! Matrix products are the `gemm` crate's (as candle's). Its threads split
//! output blocks, never the summed dimension, so results do not depend on
//! the thread count; the bias gradient sums rows in order.

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};

use super::cpu_gemm::{matmul, Parallelism};
use super::host::{self, f32_slice, with_values};
use super::layers::Activation;

/// A dense layer's parameters.
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn new(weight: Tensor, bias: Tensor) -> Linear {
        Linear { weight, bias }
    }

    /// x · Wᵀ + b for x of shape (rows, in).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, false)
    }

    /// act(x · Wᵀ + b); ReLU runs fused with the product on the CPU.
    pub fn forward_act(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        match act {
            Activation::Relu => self.apply(x, true),
            other => other.apply(&self.forward(x)?),
        }
    }

    fn apply(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        if x.device().is_cpu() && x.rank() == 2 {
            x.contiguous()?.apply_op3(
                &self.weight.contiguous()?,
                &self.bias.contiguous()?,
                LinearOp { relu },
            )
        } else {
            let y = x
                .broadcast_matmul(&self.weight.t()?)?
                .broadcast_add(&self.bias)?;
            if relu {
                y.relu()
            } else {
                Ok(y)
            }
        }
    }
}

struct LinearOp {
    relu: bool,
}

/// Threads for a product of this many multiply-adds: one below 2²⁶ (a
/// millisecond of work). The layers studied here are far smaller (the
/// dense VAE's largest is 4 million), and handing a 40 µs product to
/// another thread cost more than it saved: at 2 threads the dense VAE's
/// step took 5 ms against 0.9 ms on one.
fn parallelism(flops: usize) -> Parallelism {
    let t = rayon::current_num_threads();
    if t > 1 && flops >= 1 << 26 {
        Parallelism::Rayon(t)
    } else {
        Parallelism::None
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "vaerun-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let what = self.name();
        let (x, w, b) = (
            f32_slice(s1, l1, what)?,
            f32_slice(s2, l2, what)?,
            f32_slice(s3, l3, what)?,
        );
        let (rows, inp) = l1.shape().dims2()?;
        let (out, inp2) = l2.shape().dims2()?;
        if inp != inp2 || b.len() != out {
            candle_core::bail!(
                "linear: x {:?}, weight {:?}, bias {}",
                l1.dims(),
                l2.dims(),
                b.len()
            );
        }
        let mut y = Vec::with_capacity(rows * out);
        for _ in 0..rows {
            y.extend_from_slice(b);
        }
        let par = parallelism(rows * out * inp);
        matmul(
            rows,
            out,
            inp,
            &mut y,
            (out, 1),
            true,
            x,
            (inp, 1),
            w,
            (1, inp),
            par,
        );
        if self.relu {
            host::relu(&mut y);
        }
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (rows, inp) = x.dims2()?;
        let out = w.dim(0)?;
        let what = self.name();
        let grad = grad.contiguous()?;
        let dev = Device::Cpu;
        let par = parallelism(rows * out * inp);
        with_values(&grad, what, |grad| {
            let masked;
            let g = if self.relu {
                masked = with_values(res, what, |y| Ok(host::relu_backward(grad, y)))?;
                &masked[..]
            } else {
                grad
            };
            let dx = if x.track_op() {
                let mut dx = vec![0f32; rows * inp];
                with_values(w, what, |w| {
                    matmul(
                        rows,
                        inp,
                        out,
                        &mut dx,
                        (inp, 1),
                        false,
                        g,
                        (out, 1),
                        w,
                        (inp, 1),
                        par,
                    );
                    Ok(())
                })?;
                Some(Tensor::from_vec(dx, (rows, inp), &dev)?)
            } else {
                None
            };
            let dw = if w.track_op() {
                let mut dw = vec![0f32; out * inp];
                with_values(x, what, |x| {
                    matmul(
                        out,
                        inp,
                        rows,
                        &mut dw,
                        (inp, 1),
                        false,
                        g,
                        (1, out),
                        x,
                        (inp, 1),
                        par,
                    );
                    Ok(())
                })?;
                Some(Tensor::from_vec(dw, (out, inp), &dev)?)
            } else {
                None
            };
            let db = if b.track_op() {
                // Rows summed in order.
                let mut db = vec![0f32; out];
                for row in g.chunks(out) {
                    for (d, v) in db.iter_mut().zip(row) {
                        *d += *v;
                    }
                }
                Some(Tensor::from_vec(db, out, &dev)?)
            } else {
                None
            };
            Ok((dx, dw, db))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::tests::max_diff;
    use candle_core::Var;
    use rand::{Rng, SeedableRng};

    fn rand_var(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, shape: (usize, usize)) -> Var {
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect();
        Var::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Values and gradients agree with candle's matmul + broadcast add
    /// (+ relu), the path other devices take.
    #[test]
    fn matches_candles_ops_with_gradients() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        for (rows, inp, out) in [(32, 40, 512), (7, 3, 5), (1, 16, 256), (33, 300, 17)] {
            for relu in [false, true] {
                let x = rand_var(&mut rng, (rows, inp));
                let w = rand_var(&mut rng, (out, inp));
                let b = Var::from_vec(
                    (0..out).map(|_| rng.gen_range(-1.0f32..1.0)).collect(),
                    out,
                    &Device::Cpu,
                )
                .unwrap();
                let wy = rand_var(&mut rng, (rows, out));
                let layer = Linear::new(w.as_tensor().clone(), b.as_tensor().clone());
                let ours = layer.apply(&x, relu).unwrap();
                let mut theirs = x
                    .matmul(&w.t().unwrap())
                    .unwrap()
                    .broadcast_add(&b)
                    .unwrap();
                if relu {
                    theirs = theirs.relu().unwrap();
                }
                // f32 sums of up to 300 products in ±1, in another order.
                assert!(max_diff(&ours, &theirs) < 1e-4);
                let go = (ours * wy.as_tensor())
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let gt = (theirs * wy.as_tensor())
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                for v in [&x, &w, &b] {
                    let d = max_diff(go.get(v).unwrap(), gt.get(v).unwrap());
                    assert!(d < 1e-4, "{rows}x{inp}->{out} relu={relu}: {d}");
                }
            }
        }
    }

    /// Same bits with one thread and with several.
    #[test]
    fn results_do_not_depend_on_threads() {
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2);
                    let x = rand_var(&mut rng, (64, 300));
                    let w = rand_var(&mut rng, (512, 300));
                    let b = Var::from_vec(vec![0.1f32; 512], 512, &Device::Cpu).unwrap();
                    let y = Linear::new(w.as_tensor().clone(), b.as_tensor().clone())
                        .apply(&x, true)
                        .unwrap();
                    let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                    [y, g.get(&x).unwrap().clone(), g.get(&w).unwrap().clone()]
                        .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
