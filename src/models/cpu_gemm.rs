//! One strided f32 matrix product, the `gemm` crate's (the one candle's CPU
//! matmul uses), for the hand-written CPU operations ([`super::linear`],
//! [`super::conv_ops`]). `gemm` splits output blocks between threads and
//! never the summed dimension, so a product's bits do not depend on the
//! thread count.

pub use gemm::Parallelism;

/// dst (m × n) = [dst +] lhs · rhs, each given with its (row, column)
/// strides. Which layouts are fast matters: the kernel gradient of a
/// convolution ran at a quarter of the speed with a row-major destination
/// (see `conv_ops::kernel_grad`).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    par: Parallelism,
) {
    assert!(m == 0 || n == 0 || dst.len() > (m - 1) * dst_strides.0 + (n - 1) * dst_strides.1);
    assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_strides.0 + (k - 1) * lhs_strides.1);
    assert!(k == 0 || n == 0 || rhs.len() > (k - 1) * rhs_strides.0 + (n - 1) * rhs_strides.1);
    // SAFETY: the asserts keep every element the strides reach inside the
    // slices, and dst is borrowed exclusively.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides.1 as isize,
            dst_strides.0 as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1 as isize,
            lhs_strides.0 as isize,
            rhs.as_ptr(),
            rhs_strides.1 as isize,
            rhs_strides.0 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}
