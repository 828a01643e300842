//! The terms of the VAE objective: reconstruction, KL divergence, and how
//! the KL term is weighted over training (β, linear warm-up, or the
//! capacity schedule of Burgess et al. 2018).

use candle_core::{Result, Tensor, D};
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReconLoss {
    /// Squared error summed over features (a Gaussian decoder).
    #[default]
    Mse,
    /// Binary cross-entropy summed over features, for inputs in [0, 1]
    /// (a Bernoulli decoder); the decoder outputs logits.
    Bce,
}

impl ReconLoss {
    /// Per-row reconstruction loss of decoder output `out` against `x`.
    pub fn per_row(self, out: &Tensor, x: &Tensor) -> Result<Tensor> {
        match self {
            ReconLoss::Mse => (out - x)?.sqr()?.sum(D::Minus1),
            // BCE with logits, in the overflow-free form
            // max(l, 0) − l·x + log(1 + e^−|l|).
            ReconLoss::Bce => {
                let soft = (out.abs()?.neg()?.exp()? + 1.0)?.log()?;
                ((out.relu()? - out.mul(x)?)? + soft)?.sum(D::Minus1)
            }
        }
    }

    /// What the decoder's output means in input space.
    pub fn mean(self, out: &Tensor) -> Result<Tensor> {
        match self {
            ReconLoss::Mse => Ok(out.clone()),
            ReconLoss::Bce => candle_nn::ops::sigmoid(out),
        }
    }

    /// The inputs this loss is defined for (any layout: every value is seen).
    pub fn check_inputs<'a>(
        self,
        x: impl IntoIterator<Item = &'a f32>,
    ) -> std::result::Result<(), String> {
        if self == ReconLoss::Bce {
            let (lo, hi) = x
                .into_iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if lo < 0.0 || hi > 1.0 {
                return Err(format!(
                    "recon_loss = \"bce\" needs inputs in [0, 1], but they span [{lo:.3}, {hi:.3}]; \
                     use features in that range with standardize = false, or recon_loss = \"mse\""
                ));
            }
        }
        Ok(())
    }
}

/// KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dimensions, per row:
/// −½ Σ (1 + log σ² − μ² − σ²).
pub fn kl_per_row(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    let inner = ((logvar.exp()? + mu.sqr()?)? - logvar)?;
    ((inner - 1.0)? * 0.5)?.sum(D::Minus1)
}

/// How the batch-mean KL enters the loss as training progresses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KlWeighting {
    /// β · w(t) · KL, with w rising linearly from 0 to 1 over `warmup`
    /// epochs (w = 1 throughout when `warmup` is 0).
    Beta { beta: f64, warmup: f64 },
    /// γ · |KL − C(t)|, C rising linearly from 0 to `c_max` nats over
    /// `epochs` epochs (Burgess et al., "Understanding disentangling in
    /// β-VAE").
    Capacity { c_max: f64, gamma: f64, epochs: f64 },
}

impl KlWeighting {
    /// `progress` is the number of epochs done, fractional within an epoch.
    pub fn apply(self, kl: &Tensor, progress: f64) -> Result<Tensor> {
        match self {
            KlWeighting::Beta { beta, warmup } => {
                let w = if warmup > 0.0 {
                    (progress / warmup).min(1.0)
                } else {
                    1.0
                };
                kl * (beta * w)
            }
            KlWeighting::Capacity {
                c_max,
                gamma,
                epochs,
            } => {
                let c = c_max * (progress / epochs).min(1.0);
                (kl - c)?.abs()? * gamma
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn scalar(t: Tensor) -> f64 {
        t.to_scalar::<f32>().unwrap() as f64
    }

    #[test]
    fn kl_matches_closed_form() {
        let dev = Device::Cpu;
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
            // f32 arithmetic on values of order 1.
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn bce_matches_its_definition() {
        let dev = Device::Cpu;
        let logits = [2.0f64, -1.0, 0.0, 30.0];
        let x = [1.0f64, 0.25, 0.5, 0.0];
        let got = ReconLoss::Bce
            .per_row(
                &Tensor::new(&[logits.map(|v| v as f32)], &dev).unwrap(),
                &Tensor::new(&[x.map(|v| v as f32)], &dev).unwrap(),
            )
            .unwrap()
            .squeeze(0)
            .unwrap();
        let want: f64 = logits
            .iter()
            .zip(&x)
            .map(|(&l, &t)| {
                let p = 1.0 / (1.0 + (-l).exp());
                // log(1 − p) via −l − log(1 + e^−l), stable for l = 30.
                -(t * p.ln() + (1.0 - t) * (-l - (1.0 + (-l).exp()).ln()))
            })
            .sum();
        assert!((scalar(got) - want).abs() < 1e-4, "{want}");
        assert!(ReconLoss::Bce.check_inputs(&[0.0, 0.5, 1.0]).is_ok());
        assert!(ReconLoss::Bce
            .check_inputs(&[-0.1])
            .unwrap_err()
            .contains("[0, 1]"));
    }

    #[test]
    fn schedules_follow_their_formulas() {
        let kl = Tensor::new(10f32, &Device::Cpu).unwrap();
        let warm = KlWeighting::Beta {
            beta: 4.0,
            warmup: 10.0,
        };
        assert_eq!(scalar(warm.apply(&kl, 0.0).unwrap()), 0.0);
        assert_eq!(scalar(warm.apply(&kl, 5.0).unwrap()), 20.0);
        assert_eq!(scalar(warm.apply(&kl, 50.0).unwrap()), 40.0);
        let cap = KlWeighting::Capacity {
            c_max: 25.0,
            gamma: 100.0,
            epochs: 10.0,
        };
        // C(2) = 5: 100 · |10 − 5|; C(10) = 25: 100 · |10 − 25|.
        assert_eq!(scalar(cap.apply(&kl, 2.0).unwrap()), 500.0);
        assert_eq!(scalar(cap.apply(&kl, 20.0).unwrap()), 1500.0);
    }
}
