//! The feature extractor's hot loops, written as plain loops that LLVM
//! vectorises. On x86-64 each is compiled twice, for the baseline target
//! (SSE2) and for AVX2, and the copy is chosen at run time: the default
//! target cannot assume AVX2, and building with `target-cpu=native` would
//! make a binary that crashes on an older CPU. Both copies do the same
//! arithmetic in the same order (Rust never contracts a·b + c into an FMA),
//! so results do not depend on the CPU.

use rustfft::num_complex::Complex;

/// Defines `fn $name` that runs `$body` compiled for AVX2 when the CPU has
/// it, and for the baseline target otherwise.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                generic($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { avx2($($arg),*) };
            }
            generic($($arg),*)
        }
    };
}
// The training kernels (src/models/host.rs) use it too.
pub(crate) use multiversion;

multiversion! {
    /// out[i] = x[i]·w[i] in f64 (librosa multiplies the float32 frame by
    /// its float64 window).
    pub fn window(x: &[f32], w: &[f64], out: &mut [f64]) {
        let n = out.len();
        let (x, w) = (&x[..n], &w[..n]);
        for i in 0..n {
            out[i] = x[i] as f64 * w[i];
        }
    }
}

multiversion! {
    /// |X[k]|² for k = 0..=M of a real frame whose samples were packed as
    /// z[j] = x[2j] + i·x[2j+1] and transformed (Z, M points): with
    /// b = Z[M − k] (Z[0] at both ends), E = (Z[k] + conj b)/2 and
    /// O = (Z[k] − conj b)/2i are the spectra of the even and odd samples,
    /// and X[k] = E + W^k·O with W^k = tw_re[k] + i·tw_im[k].
    pub fn split_power(z: &[Complex<f64>], tw_re: &[f64], tw_im: &[f64], out: &mut [f32]) {
        #[inline(always)]
        fn bin(a: Complex<f64>, b: Complex<f64>, c: f64, s: f64) -> f32 {
            let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
            // (a − conj b) / 2i = ((a.im + b.im) − i(a.re − b.re)) / 2
            let (or, oi) = (0.5 * (a.im + b.im), -0.5 * (a.re - b.re));
            let xr = er + (c * or - s * oi);
            let xi = ei + (c * oi + s * or);
            (xr * xr + xi * xi) as f32
        }
        let m = z.len();
        let (tw_re, tw_im, out) = (&tw_re[..=m], &tw_im[..=m], &mut out[..=m]);
        out[0] = bin(z[0], z[0], tw_re[0], tw_im[0]);
        out[m] = bin(z[0], z[0], tw_re[m], tw_im[m]);
        for k in 1..m {
            out[k] = bin(z[k], z[m - k], tw_re[k], tw_im[k]);
        }
    }
}

multiversion! {
    /// One frame through a sparse filterbank: out[f] = Σ_j w_j·frame[first + j]
    /// for each filter (first, w), in f32 with eight partial sums.
    pub fn filter_frame(frame: &[f32], filters: &[(usize, Vec<f32>)], out: &mut [f32]) {
        for (o, (first, w)) in out.iter_mut().zip(filters) {
            let x = &frame[*first..first + w.len()];
            let mut acc = [0f32; 8];
            let mut wc = w.chunks_exact(8);
            let mut xc = x.chunks_exact(8);
            for (wv, xv) in (&mut wc).zip(&mut xc) {
                for l in 0..8 {
                    acc[l] += wv[l] * xv[l];
                }
            }
            let tail = wc
                .remainder()
                .iter()
                .zip(xc.remainder())
                .fold(0f32, |a, (&wj, &xj)| a + wj * xj);
            *o = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
                + tail;
        }
    }
}

multiversion! {
    /// out[i] = 10·log10(max(s[i], amin)) for finite s and a normal amin.
    ///
    /// Written out (in f64, then rounded) because it vectorises where libm's
    /// scalar log10f does not: with x = 2^e·m, m in [√½, √2) and
    /// t = (m − 1)/(m + 1), ln m = 2·atanh t = 2(t + t³/3 + … + t¹¹/11); |t|
    /// ≤ 0.172, so the first omitted term is below 2e-11, far under the f32
    /// result's rounding.
    pub fn power_db(s: &[f32], amin: f32, out: &mut [f32]) {
        const LN2: f64 = std::f64::consts::LN_2;
        const DB_PER_LN: f64 = 10.0 / std::f64::consts::LN_10;
        let n = out.len();
        let s = &s[..n];
        for i in 0..n {
            let x = s[i].max(amin) as f64;
            let bits = x.to_bits();
            let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
            let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
            if m > std::f64::consts::SQRT_2 {
                m *= 0.5;
                e += 1;
            }
            let t = (m - 1.0) / (m + 1.0);
            let t2 = t * t;
            let series = 1.0
                + t2 * (1.0 / 3.0
                    + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0 + t2 * (1.0 / 11.0)))));
            out[i] = ((e as f64 * LN2 + 2.0 * t * series) * DB_PER_LN) as f32;
        }
    }
}

multiversion! {
    /// acc[t] += c·x[t] in f64, x in f32 (one term of a matrix product
    /// accumulated along a row).
    pub fn axpy(c: f64, x: &[f32], acc: &mut [f64]) {
        let n = acc.len();
        let x = &x[..n];
        for i in 0..n {
            acc[i] += c * x[i] as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_db_matches_libm_log10() {
        let mut worst = 0f64;
        let mut xs: Vec<f32> = (0..20_000)
            .map(|i| 10f32.powf(-12.0 + 20.0 * i as f32 / 20_000.0))
            .collect();
        xs.extend([1.0, 2.0, 0.5, 1e-10, 0.0, f32::MIN_POSITIVE, 3.4e38]);
        let mut out = vec![0f32; xs.len()];
        power_db(&xs, 1e-10, &mut out);
        for (&x, &d) in xs.iter().zip(&out) {
            let want = 10.0 * (x.max(1e-10) as f64).log10();
            // One f32 rounding of the result, and nothing else.
            let ulp = (want as f32).abs() * f32::EPSILON;
            worst = worst.max((d as f64 - want).abs() / ulp.max(f32::MIN_POSITIVE) as f64);
            assert!((d as f64 - want).abs() <= ulp as f64, "{x}: {d} vs {want}");
        }
        assert!(worst <= 1.0, "{worst} ulp");
    }

    #[test]
    fn filter_frame_is_the_dot_product() {
        let frame: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin().abs()).collect();
        let filters: Vec<(usize, Vec<f32>)> = [(0, 1), (3, 8), (10, 19), (50, 40)]
            .iter()
            .map(|&(first, len)| (first, (0..len).map(|j| 0.1 + j as f32 * 0.01).collect()))
            .collect();
        let mut out = vec![0f32; filters.len()];
        filter_frame(&frame, &filters, &mut out);
        for (o, (first, w)) in out.iter().zip(&filters) {
            let want: f64 = w
                .iter()
                .enumerate()
                .map(|(j, &wj)| wj as f64 * frame[first + j] as f64)
                .sum();
            assert!(
                (*o as f64 - want).abs() <= 1e-6 * want.abs(),
                "{o} vs {want}"
            );
        }
    }
}
