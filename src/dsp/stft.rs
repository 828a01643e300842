//! Short-time Fourier transform with librosa's defaults: periodic Hann
//! window, `center = True` with zero padding, frames `1 + len / hop`.
//!
//! The FFT runs in f64 (librosa multiplies float32 frames by a float64 window,
//! so its FFT is float64 too) and two real frames share one complex FFT: with
//! z = a + i·b, A[k] = (Z[k] + conj Z[N−k]) / 2 and B[k] = (Z[k] − conj Z[N−k]) / 2i.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

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
    fft: Arc<dyn Fft<f64>>,
}

impl Stft {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(n_fft);
        Stft {
            n_fft,
            hop,
            window: hann_periodic(n_fft),
            fft,
        }
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop
    }

    /// Power spectrogram |X|², bins × frames, row-major (`out[bin * frames + t]`).
    /// Long signals are split into contiguous frame ranges computed in
    /// parallel; every frame is computed the same way, so the result does
    /// not depend on the thread count.
    pub fn power(&self, y: &[f32]) -> Vec<f32> {
        use rayon::prelude::*;
        let frames = self.n_frames(y.len());
        let bins = self.n_bins();
        // Even-sized ranges keep the frame pairing identical to the serial path.
        const RANGE: usize = 1024;
        if frames <= RANGE {
            return self.power_range(y, 0, frames);
        }
        let ranges: Vec<(usize, usize)> = (0..frames)
            .step_by(RANGE)
            .map(|t| (t, (t + RANGE).min(frames)))
            .collect();
        let parts: Vec<Vec<f32>> = ranges
            .par_iter()
            .map(|&(t0, t1)| self.power_range(y, t0, t1))
            .collect();
        let mut out = vec![0f32; bins * frames];
        for (&(t0, t1), part) in ranges.iter().zip(&parts) {
            let w = t1 - t0;
            for k in 0..bins {
                out[k * frames + t0..k * frames + t1].copy_from_slice(&part[k * w..(k + 1) * w]);
            }
        }
        out
    }

    /// Frames t0..t1 as a bins × (t1 − t0) matrix. Frames are computed in
    /// blocks of 16 into a frame-major buffer, then written out bin by bin as
    /// contiguous runs (a strided write per bin and frame thrashes the cache).
    pub fn power_range(&self, y: &[f32], t0: usize, t1: usize) -> Vec<f32> {
        const BLOCK: usize = 16;
        let frames = t1 - t0;
        let bins = self.n_bins();
        let n = self.n_fft;
        let pad = n / 2;
        let mut out = vec![0f32; bins * frames];
        let mut block = vec![0f32; BLOCK * bins];
        let mut buf = vec![Complex64::default(); n];
        let mut scratch = vec![Complex64::default(); self.fft.get_inplace_scratch_len()];
        let mut b0 = 0;
        while b0 < frames {
            let b1 = (b0 + BLOCK).min(frames);
            let mut t = b0;
            while t < b1 {
                let pair = t + 1 < b1;
                // Sample j of frame f is y[f*hop + j - pad], zero outside y.
                let start_a = ((t0 + t) * self.hop) as isize - pad as isize;
                let start_b = start_a + self.hop as isize;
                let inside = |s: isize| s >= 0 && (s as usize) + n <= y.len();
                if inside(start_a) && (!pair || inside(start_b)) {
                    let a = &y[start_a as usize..start_a as usize + n];
                    if pair {
                        let b = &y[start_b as usize..start_b as usize + n];
                        for (((o, &w), &x), &z) in buf.iter_mut().zip(&self.window).zip(a).zip(b) {
                            *o = Complex64::new(x as f64 * w, z as f64 * w);
                        }
                    } else {
                        for ((o, &w), &x) in buf.iter_mut().zip(&self.window).zip(a) {
                            *o = Complex64::new(x as f64 * w, 0.0);
                        }
                    }
                } else {
                    let sample = |s: isize, j: usize| -> f64 {
                        let idx = s + j as isize;
                        if idx >= 0 && (idx as usize) < y.len() {
                            y[idx as usize] as f64
                        } else {
                            0.0
                        }
                    };
                    for (j, o) in buf.iter_mut().enumerate() {
                        let w = self.window[j];
                        let b = if pair { sample(start_b, j) * w } else { 0.0 };
                        *o = Complex64::new(sample(start_a, j) * w, b);
                    }
                }
                self.fft.process_with_scratch(&mut buf, &mut scratch);
                let (ra, rest) = block[(t - b0) * bins..].split_at_mut(bins);
                for k in 0..bins {
                    let z = buf[k];
                    // Z[N − k] (Z[0] for k = 0), without a division per bin.
                    let zc = buf[if k == 0 { 0 } else { n - k }].conj();
                    ra[k] = ((z + zc) * 0.5).norm_sqr() as f32;
                    if pair {
                        let d = z - zc;
                        // (z − conj z′) / 2i
                        rest[k] = Complex64::new(d.im * 0.5, -d.re * 0.5).norm_sqr() as f32;
                    }
                }
                t += 2;
            }
            for k in 0..bins {
                for t in b0..b1 {
                    out[k * frames + t] = block[(t - b0) * bins + k];
                }
            }
            b0 = b1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_ranges_equal_one_range() {
        let y: Vec<f32> = (0..700_000)
            .map(|i| ((i as f64 * 0.013).sin() * (i as f64 * 0.0007).cos()) as f32)
            .collect();
        let s = Stft::new(2048, 512);
        let frames = s.n_frames(y.len());
        assert!(frames > 1024, "exercises the parallel path");
        assert_eq!(s.power(&y), s.power_range(&y, 0, frames));
    }

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
            let col: Vec<f32> = (0..s.n_bins()).map(|k| p[k * frames + t]).collect();
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
}
