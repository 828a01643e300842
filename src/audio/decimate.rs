//! Resampling by an integer factor D (44.1 → 22.05 kHz, 48 → 24 kHz,
//! 48 → 16 kHz…): a linear-phase FIR low-pass evaluated only at the kept
//! samples, by FFT (overlap-save).
//!
//! Written by hand because it is the front end's most common conversion
//! and the general resamplers do more work than it needs: rubato's FFT
//! resampler (still used for every other ratio) runs a real FFT per
//! sub-chunk with a generic post-pass. Here two consecutive blocks ride in
//! one complex FFT (z = a + i·b; the filter is real, so the real and
//! imaginary parts of the filtered z are the two filtered blocks), the
//! spectrum is multiplied by the filter's and folded D ways (which is
//! decimation in the frequency domain), and one inverse FFT of N/D points
//! yields both blocks' output samples at the output rate.
//!
//! The filter is designed to the specification of librosa's default
//! resampler (soxr "HQ"): passband flat to 0.913 of the output Nyquist
//! frequency, at least 120 dB of rejection from the output Nyquist
//! frequency on, linear phase. It is a Kaiser-windowed sinc (Kaiser's
//! formulas for β and length); its passband ripple is ~1e-6.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// soxr HQ's passband end and stopband start, as fractions of the output
/// Nyquist frequency, and its rejection.
const PASSBAND_END: f64 = 0.913;
const STOPBAND_BEGIN: f64 = 1.0;
const REJECTION_DB: f64 = 120.0;
/// Inverse FFT size at the output rate; the forward FFT has D times as
/// many points (4096 for 44.1 → 22.05 kHz).
const BLOCK_OUT: usize = 2048;
/// Block pairs per parallel task: enough work to amortise a task, small
/// enough that two threads share a 30 s clip evenly.
const PAIRS_PER_TASK: usize = 8;

/// An integer-factor decimator; build once per factor, reuse for every clip.
pub struct Decimator {
    factor: usize,
    /// Forward FFT size at the input rate: BLOCK_OUT · factor.
    block: usize,
    /// Filter taps (odd length 2h + 1, h a multiple of the factor).
    half: usize,
    /// DFT of the zero-padded filter, scaled by 1/block (rustfft does not
    /// normalise).
    spectrum: Vec<Complex<f32>>,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
}

/// The zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..64 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    sum
}

/// Kaiser-windowed sinc low-pass for decimation by `factor`, as taps of
/// length 2·half + 1 with unit DC gain.
pub fn lowpass_taps(factor: usize) -> Vec<f64> {
    let nyquist_out = 0.5 / factor as f64; // cycles per input sample
    let (pass, stop) = (PASSBAND_END * nyquist_out, STOPBAND_BEGIN * nyquist_out);
    let cutoff = 0.5 * (pass + stop);
    let width = stop - pass;
    let beta = 0.1102 * (REJECTION_DB - 8.7);
    // Kaiser: order ≈ (A − 7.95) / (2.285 · 2π · Δf); round the half length
    // up to a multiple of the factor so the centre tap lands on an output.
    let order = (REJECTION_DB - 7.95) / (2.285 * 2.0 * std::f64::consts::PI * width);
    let half = ((order / 2.0).ceil() as usize).div_ceil(factor) * factor;
    let norm = bessel_i0(beta);
    let mut taps: Vec<f64> = (0..=2 * half)
        .map(|j| {
            let t = j as f64 - half as f64;
            let r = t / half as f64;
            let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / norm;
            let x = 2.0 * cutoff * t;
            let sinc = if t == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            2.0 * cutoff * sinc * window
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= sum);
    taps
}

impl Decimator {
    pub fn new(factor: usize) -> Decimator {
        assert!(factor >= 2, "decimation factor {factor}");
        let taps = lowpass_taps(factor);
        let half = taps.len() / 2;
        let block = BLOCK_OUT * factor;
        assert!(taps.len() < block / 2, "filter longer than half a block");
        let mut planner = FftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(block);
        let inverse = planner.plan_fft_inverse(BLOCK_OUT);
        let mut spectrum: Vec<Complex<f64>> = (0..block)
            .map(|j| Complex::new(taps.get(j).copied().unwrap_or(0.0), 0.0))
            .collect();
        FftPlanner::<f64>::new()
            .plan_fft_forward(block)
            .process(&mut spectrum);
        let spectrum = spectrum
            .iter()
            .map(|c| Complex::new((c.re / block as f64) as f32, (c.im / block as f64) as f32))
            .collect();
        Decimator {
            factor,
            block,
            half,
            spectrum,
            forward,
            inverse,
        }
    }

    /// Output samples per block (the block's hop at the input rate / D).
    fn per_block(&self) -> usize {
        (self.block - 2 * self.half) / self.factor
    }

    /// `ceil(len / D)` output samples; output m is the filtered input at
    /// sample D·m (zero outside the clip, so the ends carry the filter's
    /// transient, as any resampler's do).
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        let total = input.len().div_ceil(self.factor);
        let mut out = crate::buffer::zeroed(total);
        let per_task = 2 * self.per_block() * PAIRS_PER_TASK;
        out.par_chunks_mut(per_task).enumerate().for_each_init(
            || Scratch::new(self),
            |scratch, (task, dst)| {
                let pair_len = 2 * self.per_block();
                for (p, pair) in dst.chunks_mut(pair_len).enumerate() {
                    let first = task * per_task + p * pair_len;
                    self.block_pair(input, first, pair, scratch);
                }
            },
        );
        out
    }

    /// Outputs `first ..` into `dst` (up to two blocks' worth).
    fn block_pair(&self, input: &[f32], first: usize, dst: &mut [f32], s: &mut Scratch) {
        let (d, per) = (self.factor, self.per_block());
        // Block b covers outputs first + b·per ..; its input starts h
        // samples before the first output's centre minus the filter's reach:
        // s = D·m0 − h, and output m0 + i is the filtered block at 2h + D·i.
        let start = |b: usize| (d * (first + b * per)) as isize - self.half as isize;
        let (sa, sb) = (start(0), start(1));
        let n = self.block;
        if sa >= 0 && sb as usize + n <= input.len() {
            let (a, b) = (&input[sa as usize..][..n], &input[sb as usize..][..n]);
            for ((z, &va), &vb) in s.z.iter_mut().zip(a).zip(b) {
                *z = Complex::new(va, vb);
            }
        } else {
            for (j, z) in s.z.iter_mut().enumerate() {
                *z = Complex::new(
                    sample(input, sa + j as isize),
                    sample(input, sb + j as isize),
                );
            }
        }
        self.forward.process_with_scratch(&mut s.z, &mut s.fft);
        // Multiply by the filter, then fold the D sub-bands onto the first.
        let m = BLOCK_OUT;
        s.folded.iter_mut().for_each(|f| *f = Complex::default());
        for (zs, hs) in s.z.chunks_exact(m).zip(self.spectrum.chunks_exact(m)) {
            for ((f, &z), &h) in s.folded.iter_mut().zip(zs).zip(hs) {
                *f += z * h;
            }
        }
        self.inverse.process_with_scratch(&mut s.folded, &mut s.fft);
        let skip = 2 * self.half / d;
        let valid = &s.folded[skip..skip + per];
        let (a, b) = dst.split_at_mut(per.min(dst.len()));
        for (o, v) in a.iter_mut().zip(valid) {
            *o = v.re;
        }
        for (o, v) in b.iter_mut().zip(valid) {
            *o = v.im;
        }
    }
}

fn sample(input: &[f32], i: isize) -> f32 {
    if i >= 0 && (i as usize) < input.len() {
        input[i as usize]
    } else {
        0.0
    }
}

struct Scratch {
    z: Vec<Complex<f32>>,
    folded: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
}

impl Scratch {
    fn new(d: &Decimator) -> Scratch {
        let len = d
            .forward
            .get_inplace_scratch_len()
            .max(d.inverse.get_inplace_scratch_len());
        Scratch {
            z: vec![Complex::default(); d.block],
            folded: vec![Complex::default(); BLOCK_OUT],
            fft: vec![Complex::default(); len],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FFT path equals the direct convolution sum at every output,
    /// including the ends and the block and task boundaries.
    #[test]
    fn equals_direct_filtering_everywhere() {
        for factor in [2, 3] {
            let dec = Decimator::new(factor);
            let taps = lowpass_taps(factor);
            let h = taps.len() / 2;
            let n = 2 * BLOCK_OUT * PAIRS_PER_TASK * factor * 3 + 777;
            let x: Vec<f32> = (0..n)
                .map(|i| ((i as f64 * 0.013).sin() * 0.5 + (i as f64 * 0.77).cos() * 0.2) as f32)
                .collect();
            let got = dec.process(&x);
            assert_eq!(got.len(), n.div_ceil(factor));
            let mut worst = 0f64;
            for (m, &g) in got.iter().enumerate() {
                let c = (factor * m) as isize;
                let want: f64 = taps
                    .iter()
                    .enumerate()
                    .map(|(j, &t)| t * sample(&x, c + h as isize - j as isize) as f64)
                    .sum();
                worst = worst.max((g as f64 - want).abs());
            }
            // f32 FFTs of a few thousand points: ~1e-7 of the block's level.
            assert!(worst < 2e-6, "factor {factor}: max |diff| {worst}");
        }
    }

    /// Flat passband (≤ 1e-5 up to 0.913 of the output Nyquist frequency),
    /// ≥ 115 dB rejection from the output Nyquist frequency on, measured on
    /// the filter's frequency response.
    #[test]
    fn filter_meets_the_hq_specification() {
        for factor in [2, 3, 4] {
            let taps = lowpass_taps(factor);
            let response = |f: f64| -> f64 {
                let (mut re, mut im) = (0.0, 0.0);
                for (j, &t) in taps.iter().enumerate() {
                    let w = -2.0 * std::f64::consts::PI * f * j as f64;
                    re += t * w.cos();
                    im += t * w.sin();
                }
                (re * re + im * im).sqrt()
            };
            let ny = 0.5 / factor as f64;
            for i in 0..=200 {
                let f = PASSBAND_END * ny * i as f64 / 200.0;
                assert!(
                    (response(f) - 1.0).abs() < 1e-5,
                    "pass {f}: {}",
                    response(f)
                );
            }
            for i in 0..=400 {
                let f = ny + (0.5 - ny) * i as f64 / 400.0;
                let db = 20.0 * response(f).log10();
                assert!(db < -115.0, "factor {factor}, stop {f}: {db} dB");
            }
        }
    }
}
