//! Short-time Fourier transform with librosa's defaults: periodic Hann
//! window, `center = True` with zero padding, frames `1 + len / hop`.
//!
//! The FFT runs in f64 (librosa multiplies float32 frames by a float64 window,
//! so its FFT is float64 too), as a real-input transform (realfft, already
//! in the tree through rubato).

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

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
    real: Arc<dyn RealToComplex<f64>>,
}

impl Stft {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let real = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        Stft {
            n_fft,
            hop,
            window: hann_periodic(n_fft),
            real,
        }
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop
    }

    /// Power spectrogram |X|² of the whole clip, bins × frames, row-major
    /// (`out[bin * frames + t]`). Feature extraction streams frame ranges
    /// through [`Stft::power_range`] instead of holding this whole.
    pub fn power(&self, y: &[f32]) -> Vec<f32> {
        self.power_range(y, 0, self.n_frames(y.len()))
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
        let mut input = self.real.make_input_vec();
        let mut spectrum = self.real.make_output_vec();
        let mut scratch = self.real.make_scratch_vec();
        let mut b0 = 0;
        while b0 < frames {
            let b1 = (b0 + BLOCK).min(frames);
            for t in b0..b1 {
                // Sample j of frame f is y[f*hop + j - pad], zero outside y.
                let start = ((t0 + t) * self.hop) as isize - pad as isize;
                if start >= 0 && start as usize + n <= y.len() {
                    let x = &y[start as usize..start as usize + n];
                    for ((o, &w), &v) in input.iter_mut().zip(&self.window).zip(x) {
                        *o = v as f64 * w;
                    }
                } else {
                    for (j, o) in input.iter_mut().enumerate() {
                        let idx = start + j as isize;
                        let v = if idx >= 0 && (idx as usize) < y.len() {
                            y[idx as usize] as f64
                        } else {
                            0.0
                        };
                        *o = v * self.window[j];
                    }
                }
                self.real
                    .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                    .expect("buffer sizes come from the plan");
                for (p, z) in block[(t - b0) * bins..(t - b0 + 1) * bins]
                    .iter_mut()
                    .zip(&spectrum)
                {
                    *p = z.norm_sqr() as f32;
                }
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
