//! Non-negative least squares through a mel filterbank: the power spectrum
//! X ≥ 0 (bins × frames) minimising ‖A X − M‖² for the filterbank A
//! (n_mels × bins) and a mel power spectrogram M, as
//! `librosa.util.nnls` does for `mel_to_stft`.
//!
//! librosa starts from the clipped least-norm solution max(pinv(A) M, 0)
//! and refines it with scipy's L-BFGS-B on the objective ½‖A X − M‖² / size
//! (size = the block's number of values), over blocks of at most
//! 2¹⁸ / (4 · n_mels) frames. We take the same start, the same blocks and
//! the same objective, and apply L-BFGS-B's first convergence test (its
//! projected gradient's largest entry ≤ pgtol = 1e-5), so where L-BFGS-B
//! returns its starting point unchanged — spectrograms of small values —
//! the result is librosa's. Otherwise we refine with accelerated projected
//! gradient (FISTA with restarts) rather than a port of L-BFGS-B's
//! thousand-line Fortran: with more bins than mel bands the minimisers form
//! a set, and two solvers land on different points of it, so the result is
//! not librosa's bit for bit; it fits the mel spectrogram at least as well
//! (see tests/inverse.rs for the measured agreement).

use ndarray::Array2;

use super::mel::MelBank;

/// librosa's `MAX_MEM_BLOCK` (2¹⁸ bytes) over float32 mel rows.
const MAX_MEM_BLOCK: usize = 1 << 18;
/// scipy's `fmin_l_bfgs_b` default projected-gradient tolerance.
const PGTOL: f64 = 1e-5;
/// Refinement stops when the relative mel residual ‖AX − M‖/‖M‖ falls below
/// this (far below what float32 output resolves) ...
const RESIDUAL_TOL: f64 = 1e-7;
/// ... or the objective improved by less than this fraction over the last
/// `STALL_WINDOW` iterations, or after `MAX_ITER` iterations.
const STALL_TOL: f64 = 1e-6;
const STALL_WINDOW: usize = 10;
const MAX_ITER: usize = 1000;

/// Frames per block, as librosa's `nnls` splits the columns.
fn block_frames(n_mels: usize) -> usize {
    (MAX_MEM_BLOCK / (n_mels * 4)).max(1)
}

/// The Moore–Penrose pseudo-inverse of the filterbank (bins × n_mels), from
/// its SVD; singular values below 1e-10 of the largest count as zero (a
/// filter with no bins — too many mel bands for n_fft — has none; the
/// others are within a factor of about 5 of each other).
fn pinv(bank: &MelBank) -> Array2<f64> {
    use linfa_linalg::svd::SVD;
    let dense = bank.dense();
    // Aᵀ (bins × n_mels) = U Σ Vᵀ, so pinv(A) = U Σ⁺ Vᵀ.
    let at = Array2::from_shape_fn((bank.n_bins, bank.n_mels), |(k, m)| dense[m][k] as f64);
    let (u, s, vt) = at
        .svd(true, true)
        .expect("the filterbank is a finite, non-empty matrix");
    let (u, vt) = (u.expect("asked for U"), vt.expect("asked for Vᵀ"));
    let smax = s.iter().fold(0f64, |a, &b| a.max(b.abs()));
    let mut us = u;
    for (j, &sj) in s.iter().enumerate() {
        let inv = if sj.abs() > 1e-10 * smax {
            1.0 / sj
        } else {
            0.0
        };
        us.column_mut(j).mapv_inplace(|v| v * inv);
    }
    us.dot(&vt)
}

/// X ≥ 0 minimising ‖A X − M‖² for a mel power spectrogram `mel`
/// (n_mels × frames, row-major); returns X frame-major (frames × bins).
pub fn mel_nnls(bank: &MelBank, mel: &[f64], frames: usize) -> Vec<f64> {
    let (n_mels, bins) = (bank.n_mels, bank.n_bins);
    assert_eq!(mel.len(), n_mels * frames);
    // M frame-major, so each frame's mel bands are contiguous.
    let mut b = vec![0f64; frames * n_mels];
    for m in 0..n_mels {
        for t in 0..frames {
            b[t * n_mels + m] = mel[m * frames + t];
        }
    }
    let p = pinv(bank);
    let mut x = vec![0f64; frames * bins];
    for t in 0..frames {
        let bt = &b[t * n_mels..(t + 1) * n_mels];
        for k in 0..bins {
            let row = p.row(k);
            let v: f64 = row.iter().zip(bt).map(|(a, c)| a * c).sum();
            x[t * bins + k] = v.max(0.0);
        }
    }
    let lipschitz_base = {
        use linfa_linalg::svd::SVD;
        let dense = bank.dense();
        let a = Array2::from_shape_fn((n_mels, bins), |(m, k)| dense[m][k] as f64);
        let (_, s, _) = a.svd(false, false).expect("finite filterbank");
        s.iter().fold(0f64, |a, &b| a.max(b.abs())).powi(2)
    };
    let per_block = block_frames(n_mels);
    for t0 in (0..frames).step_by(per_block) {
        let t1 = (t0 + per_block).min(frames);
        let problem = Block {
            bank,
            b: &b[t0 * n_mels..t1 * n_mels],
            frames: t1 - t0,
        };
        problem.refine(&mut x[t0 * bins..t1 * bins], lipschitz_base);
    }
    x
}

/// One block of librosa's NNLS: its frames of M (frame-major).
struct Block<'a> {
    bank: &'a MelBank,
    b: &'a [f64],
    frames: usize,
}

impl Block<'_> {
    /// A X (frame-major, frames × n_mels) through the sparse filters.
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        let (n_mels, bins) = (self.bank.n_mels, self.bank.n_bins);
        for t in 0..self.frames {
            let xt = &x[t * bins..(t + 1) * bins];
            for (m, (first, w)) in self.bank.filters.iter().enumerate() {
                out[t * n_mels + m] = w
                    .iter()
                    .zip(&xt[*first..])
                    .map(|(&w, &v)| w as f64 * v)
                    .sum();
            }
        }
    }

    /// Aᵀ r (frame-major, frames × bins).
    fn apply_t(&self, r: &[f64], out: &mut [f64]) {
        let (n_mels, bins) = (self.bank.n_mels, self.bank.n_bins);
        out.fill(0.0);
        for t in 0..self.frames {
            let ot = &mut out[t * bins..(t + 1) * bins];
            for (m, (first, w)) in self.bank.filters.iter().enumerate() {
                let rv = r[t * n_mels + m];
                for (o, &w) in ot[*first..].iter_mut().zip(w) {
                    *o += w as f64 * rv;
                }
            }
        }
    }

    /// The residual A X − M into `r`; returns ½‖r‖² (unscaled).
    fn residual(&self, x: &[f64], r: &mut [f64]) -> f64 {
        self.apply(x, r);
        let mut sq = 0.0;
        for (rv, &bv) in r.iter_mut().zip(self.b) {
            *rv -= bv;
            sq += *rv * *rv;
        }
        0.5 * sq
    }

    /// Refines the block's start `x` in place (see the module doc).
    fn refine(&self, x: &mut [f64], sigma_max_sq: f64) {
        let size = self.b.len() as f64;
        let norm_b = self.b.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm_b == 0.0 {
            x.fill(0.0);
            return;
        }
        let mut r = vec![0f64; self.b.len()];
        let mut g = vec![0f64; x.len()];
        // L-BFGS-B's first test, on librosa's objective ½‖AX − M‖² / size:
        // entries of the projected gradient are g (g < 0) or min(x, g).
        let mut f = self.residual(x, &mut r) / size;
        self.apply_t(&r, &mut g);
        let pg = x
            .iter()
            .zip(&g)
            .map(|(&xv, &gv)| {
                let gv = gv / size;
                if gv < 0.0 {
                    -gv
                } else {
                    gv.min(xv)
                }
            })
            .fold(0f64, f64::max);
        if pg <= PGTOL {
            return;
        }
        // FISTA on the same objective: step 1/L, L = σ_max(A)² / size.
        let step = size / sigma_max_sq;
        let mut y = x.to_vec();
        let mut next = vec![0f64; x.len()];
        let mut t = 1.0f64;
        let mut history = vec![f];
        for _ in 0..MAX_ITER {
            self.residual(&y, &mut r);
            self.apply_t(&r, &mut g);
            for ((n, &yv), &gv) in next.iter_mut().zip(&y).zip(&g) {
                *n = (yv - step * gv / size).max(0.0);
            }
            let f_next = self.residual(&next, &mut r) / size;
            if f_next > f {
                // Momentum overshot: restart from the last accepted point.
                t = 1.0;
                y.copy_from_slice(x);
                continue;
            }
            let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let w = (t - 1.0) / t_next;
            for ((yv, &nv), xv) in y.iter_mut().zip(&next).zip(x.iter()) {
                *yv = nv + w * (nv - xv);
            }
            x.copy_from_slice(&next);
            t = t_next;
            f = f_next;
            history.push(f);
            let rel_residual = (2.0 * f * size).sqrt() / norm_b;
            let stalled = history.len() > STALL_WINDOW
                && history[history.len() - 1 - STALL_WINDOW] - f
                    <= STALL_TOL * history[history.len() - 1 - STALL_WINDOW];
            if rel_residual <= RESIDUAL_TOL || stalled {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pinv(A) is a pseudo-inverse: A · pinv(A) = I on the mel bands (the
    /// filterbank has full row rank at these sizes).
    #[test]
    fn pinv_is_a_right_inverse() {
        let bank = MelBank::new(8000.0, 256, 24, 0.0, 4000.0);
        let p = pinv(&bank);
        let dense = bank.dense();
        for (i, row) in dense.iter().enumerate() {
            for j in 0..24 {
                let v: f64 = (0..bank.n_bins).map(|k| row[k] as f64 * p[[k, j]]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "({i}, {j}): {v}");
            }
        }
    }

    /// A mel spectrogram made from a non-negative spectrum is fitted almost
    /// exactly, with a non-negative result.
    #[test]
    fn fits_a_reachable_mel_spectrogram() {
        let bank = MelBank::new(8000.0, 256, 24, 0.0, 4000.0);
        let frames = 5;
        let bins = bank.n_bins;
        let spec: Vec<f64> = (0..frames * bins)
            .map(|i| 100.0 * (1.0 + ((i * 7919) % 13) as f64))
            .collect();
        let mut mel = vec![0f64; 24 * frames];
        for t in 0..frames {
            for (m, (first, w)) in bank.filters.iter().enumerate() {
                mel[m * frames + t] = w
                    .iter()
                    .enumerate()
                    .map(|(j, &w)| w as f64 * spec[t * bins + first + j])
                    .sum();
            }
        }
        let x = mel_nnls(&bank, &mel, frames);
        assert!(x.iter().all(|&v| v >= 0.0));
        let block = Block {
            bank: &bank,
            b: &vec![0.0; frames * 24],
            frames,
        };
        let mut fitted = vec![0f64; frames * 24];
        block.apply(&x, &mut fitted);
        let (mut num, mut den) = (0f64, 0f64);
        for t in 0..frames {
            for m in 0..24 {
                num += (fitted[t * 24 + m] - mel[m * frames + t]).powi(2);
                den += mel[m * frames + t].powi(2);
            }
        }
        assert!((num / den).sqrt() < 1e-4, "{}", (num / den).sqrt());
    }
}
