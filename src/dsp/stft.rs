//! Short-time Fourier transform with librosa's defaults: periodic Hann
//! window, `center = true` with zero padding, frames `1 + len / hop`.
//!
//! The FFT runs in f64 (librosa multiplies float32 frames by a float64
//! window, so its FFT is float64 too; an f32 FFT misses the golden tolerance
//! on the quiet bins that power_to_db amplifies).
//!
//! Spectrograms are **frame-major** (`power[t * bins + k]`): every consumer
//! (mel, chroma, spectral statistics) reduces over the bins of one frame, so
//! a frame's bins are contiguous and no transpose of a megabyte-sized
//! matrix is ever needed.
//!
//! A real frame of n samples is transformed as n/2 complex samples
//! (z[j] = x[2j] + i·x[2j+1]) by one complex FFT, then split into the real
//! spectrum (X[k] = E[k] + W^k·O[k], E and O the even and odd samples'
//! spectra, both read from Z). That is what realfft does; it is written by
//! hand here only so that the split and |X|² happen in one vectorised pass
//! straight into the f32 spectrogram (realfft's generic split was 30 % of
//! the transform's time).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::simd;

/// A complex buffer as its interleaved real and imaginary parts.
fn as_reals(z: &mut [Complex<f64>]) -> &mut [f64] {
    // SAFETY: Complex<f64> is #[repr(C)] with exactly two f64 fields and no
    // padding, so n complex values are 2n contiguous, aligned f64s; the
    // returned slice borrows z mutably for its whole life.
    unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f64>(), 2 * z.len()) }
}

/// Periodic Hann window of length `n` (scipy `get_window('hann', n, fftbins=True)`).
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    /// Complex FFT of n_fft / 2 points.
    fft: Arc<dyn Fft<f64>>,
    /// Real and imaginary parts of W^k = exp(−2πik / n_fft), k = 0..=n_fft/2.
    twiddle_re: Vec<f64>,
    twiddle_im: Vec<f64>,
}

/// Buffers one thread reuses across frame ranges.
pub struct StftScratch {
    z: Vec<Complex<f64>>,
    fft: Vec<Complex<f64>>,
    /// A zero-padded copy of a frame that overlaps either end of the clip.
    edge: Vec<f32>,
}

impl Stft {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        assert!(
            n_fft >= 2 && n_fft % 2 == 0,
            "n_fft must be even (checked by the spec)"
        );
        let fft = FftPlanner::<f64>::new().plan_fft_forward(n_fft / 2);
        let angle = |k: usize| -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
        Stft {
            n_fft,
            hop,
            window: hann_periodic(n_fft),
            fft,
            twiddle_re: (0..=n_fft / 2).map(|k| angle(k).cos()).collect(),
            twiddle_im: (0..=n_fft / 2).map(|k| angle(k).sin()).collect(),
        }
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop
    }

    pub fn scratch(&self) -> StftScratch {
        let m = self.n_fft / 2;
        StftScratch {
            z: vec![Complex::default(); m],
            fft: vec![Complex::default(); self.fft.get_inplace_scratch_len()],
            edge: vec![0f32; self.n_fft],
        }
    }

    /// Power spectrogram |X|² of the whole clip, frames × bins (frame-major).
    /// Feature extraction streams frame ranges through
    /// [`Stft::power_frames`] instead of holding this whole.
    pub fn power(&self, y: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.power_frames(y, 0, self.n_frames(y.len()), &mut self.scratch(), &mut out);
        out
    }

    /// Frames t0..t1 into `out` as a (t1 − t0) × bins frame-major matrix
    /// (`out` is resized; its allocation is reused across calls).
    pub fn power_frames(
        &self,
        y: &[f32],
        t0: usize,
        t1: usize,
        scratch: &mut StftScratch,
        out: &mut Vec<f32>,
    ) {
        let bins = self.n_bins();
        // Every element is written below; resize only adjusts the length.
        out.resize((t1 - t0) * bins, 0.0);
        for (t, dst) in (t0..t1).zip(out.chunks_exact_mut(bins)) {
            let StftScratch { z, fft, edge } = scratch;
            let x = self.frame(y, t, edge);
            // Complex<f64> is repr(C) {re, im}, so the packed frame
            // z[j] = x[2j] + i·x[2j+1] is the windowed frame itself, viewed
            // as pairs.
            simd::window(x, &self.window, as_reals(z));
            self.fft.process_with_scratch(z, fft);
            simd::split_power(z, &self.twiddle_re, &self.twiddle_im, dst);
        }
    }

    /// Frame t's samples: `y[t·hop − n/2 ..][..n]`, zero outside the clip.
    fn frame<'a>(&self, y: &'a [f32], t: usize, edge: &'a mut [f32]) -> &'a [f32] {
        let n = self.n_fft;
        let start = (t * self.hop) as isize - (n / 2) as isize;
        if start >= 0 && start as usize + n <= y.len() {
            return &y[start as usize..start as usize + n];
        }
        for (j, o) in edge.iter_mut().enumerate() {
            let idx = start + j as isize;
            *o = if idx >= 0 && (idx as usize) < y.len() {
                y[idx as usize]
            } else {
                0.0
            };
        }
        edge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_tone_peaks_at_its_bin_in_every_frame() {
        let sr = 22050.0;
        let f = 22050.0 * 100.0 / 2048.0; // exactly bin 100
        let y: Vec<f32> = (0..8192)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / sr).sin() as f32)
            .collect();
        let s = Stft::new(2048, 512);
        let p = s.power(&y);
        let frames = s.n_frames(y.len());
        assert_eq!(frames, 17);
        for t in 4..12 {
            let col = &p[t * s.n_bins()..(t + 1) * s.n_bins()];
            let argmax = col
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            assert_eq!(argmax, 100, "frame {t}");
            // Hann-windowed unit sine: peak |X| = n_fft / 4.
            assert!((col[100].sqrt() - 512.0).abs() < 1.0, "{}", col[100].sqrt());
        }
    }

    /// The hand-written split equals realfft's real DFT of each frame, loud
    /// and quiet frames alike, and an all-zero frame is exactly zero.
    #[test]
    fn frames_equal_realfft_of_each_frame() {
        use realfft::RealFftPlanner;
        let (n, hop) = (256, 64);
        let y: Vec<f32> = (0..2000)
            .map(|i| {
                let loud = match (i / 300) % 3 {
                    0 => 1.0,
                    1 => 1e-4,
                    _ => 0.0,
                };
                (loud * ((i as f64 * 0.37).sin() + 0.3 * (i as f64 * 1.91).cos())) as f32
            })
            .collect();
        let s = Stft::new(n, hop);
        let frames = s.n_frames(y.len());
        let bins = s.n_bins();
        let got = s.power(&y);
        let real = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let window = hann_periodic(n);
        for t in 0..frames {
            let mut edge = vec![0f32; n];
            let x = s.frame(&y, t, &mut edge);
            let mut input: Vec<f64> = x.iter().zip(&window).map(|(&v, w)| v as f64 * w).collect();
            let mut spec = real.make_output_vec();
            real.process(&mut input, &mut spec).unwrap();
            let peak = spec.iter().map(|z| z.norm_sqr()).fold(0f64, f64::max);
            for k in 0..bins {
                let want = spec[k].norm_sqr();
                let d = (got[t * bins + k] as f64 - want).abs();
                // The f32 rounding of the stored value (6e-8 of the bin), and
                // f64 rounding relative to the frame's peak.
                assert!(
                    d <= 2e-7 * want + 1e-20 * peak,
                    "frame {t} bin {k}: {} vs {want}",
                    got[t * bins + k]
                );
            }
        }
        let silent = 26; // samples 1536..1792, inside the silent 1500..1800
        assert!(got[silent * bins..(silent + 1) * bins]
            .iter()
            .all(|&v| v == 0.0));
        let mut sc = s.scratch();
        let mut part = Vec::new();
        s.power_frames(&y, 3, 8, &mut sc, &mut part);
        assert_eq!(part, got[3 * bins..8 * bins]);
    }
}
