//! power_to_db and MFCC (DCT-II, orthonormal), as librosa 0.11.

/// `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db)` over a whole
/// matrix. In float32, as numpy computes it for a float32 spectrogram;
/// parallel over blocks (the max is exact in any order).
pub fn power_to_db(s: &[f32], amin: f64, top_db: Option<f64>) -> Vec<f32> {
    use rayon::prelude::*;
    let mut db = crate::buffer::zeroed(s.len());
    db.par_chunks_mut(1 << 14)
        .zip(s.par_chunks(1 << 14))
        .for_each(|(d, s)| super::simd::power_db(s, amin as f32, d));
    if let Some(top) = top_db {
        let max = db
            .par_iter()
            .with_min_len(1 << 14)
            .copied()
            .reduce(|| f32::NEG_INFINITY, f32::max);
        let floor = (max as f64 - top) as f32;
        db.par_iter_mut()
            .with_min_len(1 << 14)
            .for_each(|v| *v = v.max(floor));
    }
    db
}

/// Rows 0..n_out of the orthonormal DCT-II matrix for inputs of length n_in
/// (scipy `dct(type=2, norm='ortho')`).
pub fn dct2_ortho(n_in: usize, n_out: usize) -> Vec<Vec<f64>> {
    let n = n_in as f64;
    (0..n_out)
        .map(|k| {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            (0..n_in)
                .map(|i| {
                    scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos()
                })
                .collect()
        })
        .collect()
}

/// MFCC from a log-mel matrix (n_mels × frames, row-major): DCT along the mel
/// axis, then the optional lifter `1 + (L/2)·sin(π(k+1)/L)`. One coefficient
/// row per task, accumulated in f64.
pub fn mfcc_from_db(
    db: &[f32],
    n_mels: usize,
    frames: usize,
    dct: &[Vec<f64>],
    lifter: f64,
) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out = vec![0f32; dct.len() * frames];
    out.par_chunks_mut(frames.max(1))
        .zip(dct.par_iter())
        .enumerate()
        .for_each(|(k, (dst, row))| {
            let mut acc = vec![0f64; frames];
            for (m, &c) in row.iter().enumerate().take(n_mels) {
                super::simd::axpy(c, &db[m * frames..(m + 1) * frames], &mut acc);
            }
            let lift = if lifter > 0.0 {
                1.0 + (lifter / 2.0) * (std::f64::consts::PI * (k + 1) as f64 / lifter).sin()
            } else {
                1.0
            };
            for (o, a) in dst.iter_mut().zip(&acc) {
                *o = (*a as f32 as f64 * lift) as f32;
            }
        });
    out
}
