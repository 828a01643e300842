//! The values of CPU tensors, for the hand-written CPU operations
//! ([`super::linear`], [`super::conv_ops`], [`super::optim`]), and their
//! element-wise loops. Each loop is compiled for AVX2 as well as for the
//! baseline target and picked at run time (`dsp::simd::multiversion`);
//! both copies do the same arithmetic, so results do not depend on the CPU.

use candle_core::{CpuStorage, Layout, Result, Storage, Tensor};

use crate::dsp::simd::multiversion;

/// The f32 values of contiguous CPU storage.
pub fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("{what}: f32 tensors only");
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{what}: contiguous tensors only");
    };
    Ok(&v[a..b])
}

/// Runs `f` on the values of a contiguous f32 CPU tensor, without copying.
pub fn with_values<R>(t: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (s, l) = t.storage_and_layout();
    match &*s {
        Storage::Cpu(c) => f(f32_slice(c, l, what)?),
        _ => candle_core::bail!("{what}: CPU tensors only"),
    }
}

multiversion! {
    /// In place: v = max(v, 0).
    pub fn relu(v: &mut [f32]) {
        for v in v {
            *v = v.max(0.0);
        }
    }
}

multiversion! {
    /// The gradient through a ReLU from its output: `grad` where the
    /// output is positive, else 0 (PyTorch's convention at exactly 0).
    pub fn relu_backward(grad: &[f32], out: &[f32]) -> Vec<f32> {
        grad.iter()
            .zip(out)
            .map(|(&g, &y)| if y > 0.0 { g } else { 0.0 })
            .collect()
    }
}

multiversion! {
    /// dst += src, element-wise.
    pub fn add_assign(dst: &mut [f32], src: &[f32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += *s;
        }
    }
}

multiversion! {
    /// The sum of `v` in a fixed order: 16 running sums over the elements'
    /// positions modulo 16 (a pattern the compiler vectorises), then added
    /// in order, and the tail last.
    pub fn sum(v: &[f32]) -> f32 {
        let mut lanes = [0f32; 16];
        let chunks = v.chunks_exact(16);
        let tail = chunks.remainder();
        for c in chunks {
            for (l, x) in lanes.iter_mut().zip(c) {
                *l += *x;
            }
        }
        lanes.iter().chain(tail).fold(0.0, |a, b| a + b)
    }
}

/// Tells glibc's allocator to keep freed memory for reuse instead of
/// returning it to the system, once per process. Training allocates and
/// frees the same tensors every step (candle allocates a buffer per
/// operation); with glibc's defaults, buffers above 128 KiB are mapped and
/// unmapped each time and the heap top is trimmed, so every step faulted
/// its pages in again: a third of the dense VAE's step time went to the
/// kernel. Buffers up to 32 MiB (glibc's largest mmap threshold) now come
/// from the heap, and up to 512 MiB of free heap is kept. Elsewhere than
/// Linux with glibc this does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; it is
            // thread-safe in glibc and is called once.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
            }
        });
    }
}

/// For `main`, before any thread starts: unless the user set
/// `CANDLE_NUM_THREADS`, candle's element-wise operations run on the
/// calling thread. candle 0.11 spreads element-wise operations over 64 Ki
/// values across a process-wide pool of spinning worker threads behind one
/// lock; with several trainings at once (the pipeline trains cells in
/// parallel) they queue on that lock and the spinning workers take the
/// cores the trainings need. Measured at 2 threads: the dense VAE's step
/// 3.7 → 1.1 ms, the 1-D ConvVAE's epoch 1.25 → 0.63 s. vaerun's own
/// kernels (convolutions, dense layers) still use rayon's threads.
pub fn candle_elementwise_on_caller() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
