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
    pub fn power(&self, y: &[f32]) -> Vec<f32> {
        let frames = self.n_frames(y.len());
        let bins = self.n_bins();
        let n = self.n_fft;
        let pad = n / 2;
        let mut out = vec![0f32; bins * frames];
        let mut buf = vec![Complex64::default(); n];
        let mut scratch = vec![Complex64::default(); self.fft.get_inplace_scratch_len()];
        // The padded signal is zero outside y: sample j of frame t is y[t*hop + j - pad].
        let sample = |t: usize, j: usize| -> f64 {
            let idx = (t * self.hop + j) as isize - pad as isize;
            if idx >= 0 && (idx as usize) < y.len() {
                y[idx as usize] as f64
            } else {
                0.0
            }
        };
        let mut t = 0;
        while t < frames {
            let pair = t + 1 < frames;
            for (j, b) in buf.iter_mut().enumerate() {
                let w = self.window[j];
                let a = sample(t, j) * w;
                let c = if pair { sample(t + 1, j) * w } else { 0.0 };
                *b = Complex64::new(a, c);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for k in 0..bins {
                let z = buf[k];
                let zc = buf[(n - k) % n].conj();
                let a = (z + zc) * 0.5;
                out[k * frames + t] = a.norm_sqr() as f32;
                if pair {
                    let d = z - zc;
                    // (z - conj z') / 2i
                    let b = Complex64::new(d.im * 0.5, -d.re * 0.5);
                    out[k * frames + t + 1] = b.norm_sqr() as f32;
                }
            }
            t += 2;
        }
        out
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
