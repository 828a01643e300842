//! Chroma from a power spectrogram, as `librosa.feature.chroma_stft`:
//! `filters.chroma` (Gaussian bumps per pitch class, octave weighting
//! around C5, base C), tuning estimated with `estimate_tuning`
//! (parabolic-interpolated spectral peaks, histogram of deviations at 0.01
//! resolution), and each frame scaled to max 1.

use super::spectral::fft_frequencies;

fn hz_to_octs(f: f64, tuning: f64, bins_per_octave: f64) -> f64 {
    let a440 = 440.0 * 2f64.powf(tuning / bins_per_octave);
    (f / (a440 / 16.0)).log2()
}

/// `librosa.filters.chroma(sr, n_fft, n_chroma, tuning)`: n_chroma × (n_fft/2 + 1).
pub fn filterbank(sr: f64, n_fft: usize, n_chroma: usize, tuning: f64) -> Vec<Vec<f64>> {
    let nc = n_chroma as f64;
    let mut frqbins: Vec<f64> = (1..n_fft)
        .map(|i| nc * hz_to_octs(i as f64 * sr / n_fft as f64, tuning, nc))
        .collect();
    frqbins.insert(0, frqbins[0] - 1.5 * nc);
    let mut widths: Vec<f64> = frqbins.windows(2).map(|w| (w[1] - w[0]).max(1.0)).collect();
    widths.push(1.0);
    let half = (nc / 2.0).round();
    let mut w = vec![vec![0f64; n_fft]; n_chroma];
    for (c, row) in w.iter_mut().enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            let d = (frqbins[i] - c as f64 + half + 10.0 * nc).rem_euclid(nc) - half;
            *v = (-0.5 * (2.0 * d / widths[i]).powi(2)).exp();
        }
    }
    // Normalise every column to unit L2 norm.
    for i in 0..n_fft {
        let norm = w.iter().map(|r| r[i] * r[i]).sum::<f64>().sqrt();
        if norm > f64::MIN_POSITIVE {
            for r in w.iter_mut() {
                r[i] /= norm;
            }
        }
    }
    // Octave weighting: a Gaussian of width 2 octaves centred on octave 5.
    for i in 0..n_fft {
        let g = (-0.5 * ((frqbins[i] / nc - 5.0) / 2.0).powi(2)).exp();
        for r in w.iter_mut() {
            r[i] *= g;
        }
    }
    // Start at C rather than A.
    w.rotate_left(3 * (n_chroma / 12));
    w.into_iter()
        .map(|mut r| {
            r.truncate(n_fft / 2 + 1);
            r.iter().map(|&v| v as f32 as f64).collect()
        })
        .collect()
}

/// `librosa.estimate_tuning(S=power, sr, n_fft)`: in fractions of a bin.
/// Arithmetic is float32 where librosa's is, since the result is a
/// histogram bin that a last-bit difference could move.
pub fn estimate_tuning(s: &[f32], bins: usize, frames: usize, sr: f64, n_fft: usize) -> f64 {
    let (pitches, mags) = peaks(s, bins, frames, sr, n_fft);
    tuning_from_peaks(&pitches, &mags)
}

/// `piptrack` peaks (pitch, magnitude) of a power spectrogram; frames are
/// independent, so ranges of frames can be searched separately and joined.
pub fn peaks(s: &[f32], bins: usize, frames: usize, sr: f64, n_fft: usize) -> (Vec<f32>, Vec<f32>) {
    let freqs = fft_frequencies(sr, n_fft);
    let (fmin, fmax) = (150.0, 4000f64.min(sr / 2.0));
    let mut pitches = Vec::new();
    let mut mags = Vec::new();
    for t in 0..frames {
        let frame = &s[t * bins..(t + 1) * bins];
        let col = |b: usize| frame[b];
        let max = (0..bins).map(col).fold(f32::NEG_INFINITY, f32::max);
        let ref_value = 0.1f32 * max;
        for (b, &f) in freqs.iter().enumerate().take(bins - 1).skip(1) {
            if !(fmin <= f && f < fmax) {
                continue;
            }
            // localmax of S·(S > ref): strictly above the previous bin, at least the next.
            let gated = |k: usize| if col(k) > ref_value { col(k) } else { 0.0 };
            let x = gated(b);
            if !(x > gated(b - 1) && x >= gated(b + 1)) {
                continue;
            }
            let avg = 0.5f32 * (col(b + 1) - col(b - 1));
            let mut shift = 2.0f32 * col(b) - col(b + 1) - col(b - 1);
            if shift.abs() < f32::MIN_POSITIVE {
                shift += 1.0;
            }
            let shift = avg / shift;
            pitches.push(((b as f64 + shift as f64) * sr / n_fft as f64) as f32);
            mags.push(col(b) + 0.5f32 * avg * shift);
        }
    }
    (pitches, mags)
}

/// The tuning from all peaks: those at or above the median magnitude vote.
pub fn tuning_from_peaks(pitches: &[f32], mags: &[f32]) -> f64 {
    let positive: Vec<usize> = (0..pitches.len()).filter(|&i| pitches[i] > 0.0).collect();
    if positive.is_empty() {
        return 0.0;
    }
    let mut m: Vec<f32> = positive.iter().map(|&i| mags[i]).collect();
    m.sort_by(f32::total_cmp);
    let threshold = if m.len() % 2 == 1 {
        m[m.len() / 2]
    } else {
        (m[m.len() / 2 - 1] + m[m.len() / 2]) / 2.0
    };
    let freqs: Vec<f32> = positive
        .iter()
        .filter(|&&i| mags[i] >= threshold)
        .map(|&i| pitches[i])
        .collect();
    pitch_tuning(&freqs, 0.01, 12)
}

/// `librosa.pitch_tuning`: the most common deviation from equal temperament,
/// as the left edge of the winning histogram bin.
pub fn pitch_tuning(freqs: &[f32], resolution: f64, bins_per_octave: usize) -> f64 {
    let n_bins = (1.0 / resolution).ceil() as usize;
    let edges: Vec<f64> = (0..=n_bins)
        .map(|i| -0.5 + i as f64 / n_bins as f64)
        .collect();
    let mut counts = vec![0usize; n_bins];
    let mut any = false;
    for &f in freqs.iter().filter(|&&f| f > 0.0) {
        any = true;
        // float32, as numpy on a float32 array.
        let octs = (f / (440.0f32 / 16.0)).log2();
        let mut r = (bins_per_octave as f32 * octs).rem_euclid(1.0);
        if r >= 0.5 {
            r -= 1.0;
        }
        let r = r as f64;
        if r < edges[0] || r > edges[n_bins] {
            continue;
        }
        let mut bin = edges.partition_point(|&e| e <= r).saturating_sub(1);
        if bin == n_bins {
            bin -= 1;
        }
        counts[bin] += 1;
    }
    if !any {
        return 0.0;
    }
    let best = counts
        .iter()
        .enumerate()
        .fold(0, |b, (i, &c)| if c > counts[b] { i } else { b });
    edges[best]
}

/// Chroma (n_chroma × frames, row-major) from a frame-major power spectrogram.
pub fn chroma(power: &[f32], bins: usize, frames: usize, fb: &[Vec<f64>]) -> Vec<f32> {
    let nc = fb.len();
    let mut out = vec![0f64; nc * frames];
    let mut col = vec![0f64; nc];
    for (t, frame) in power.chunks_exact(bins).take(frames).enumerate() {
        for (c, row) in fb.iter().enumerate() {
            col[c] = row
                .iter()
                .zip(frame)
                .fold(0f64, |acc, (&w, &v)| acc + w * v as f64);
        }
        let max = col.iter().fold(0f64, |m, v| m.max(v.abs()));
        let scale = if max >= f32::MIN_POSITIVE as f64 {
            max
        } else {
            1.0
        };
        for (c, &v) in col.iter().enumerate() {
            out[c * frames + t] = v / scale;
        }
    }
    out.iter().map(|&v| v as f32).collect()
}
