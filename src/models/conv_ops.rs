//! The ConvVAE's convolutions: a strided 2-D convolution with per-axis zero
//! padding, and its transpose, each with a bias, as candle operations with
//! gradients.
//!
//! On the CPU they are candle `CustomOp`s written here, because candle's
//! own CPU convolutions made the ConvVAE about 4× slower than PyTorch: its
//! conv2d is a direct loop, and its kernel gradient runs as a convolution
//! whose "kernel" is the whole gradient map. Here every convolution is
//! im2col (the kernel-sized patches of one image as the columns of a
//! matrix) and one matrix product per image (the `gemm` crate, which candle
//! itself uses for matmul):
//!
//! - forward: `y = W · col(x) + b`;
//! - gradient of the input (the transposed convolution): `col2im(Wᵀ · g)`;
//! - gradient of the kernel: `Σ_images g · col(x)ᵀ`.
//!
//! Images are independent and run in parallel. The kernel gradient sums
//! over images in fixed groups of [`GROUP`], each group in order and the
//! groups' partial sums in order, so no result depends on the thread count
//! (same seed, same latents, on any machine size).
//!
//! On any other device both functions are candle's own `conv2d` /
//! `conv_transpose2d` plus padding and cropping, so the GPU path is
//! candle's.

use std::cell::RefCell;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu_gemm::{matmul, Parallelism};
use super::host::{self, f32_slice, with_values};
use super::layers::Activation;

/// Products inside the per-image tasks run on their task's thread.
const ONE: Parallelism = Parallelism::None;

/// Images per partial sum of the kernel gradient (see the module comment).
const GROUP: usize = 4;

/// One convolution's geometry: input maps (c, h, w), kernel (o, c, kh, kw),
/// the same stride on both axes and a zero padding per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: (usize, usize),
}

impl ConvGeom {
    /// The output map's (height, width).
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad.0 - self.kh) / self.stride + 1,
            (self.w + 2 * self.pad.1 - self.kw) / self.stride + 1,
        )
    }

    /// Rows of the patch matrix: c · kh · kw.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output positions per map.
    fn p(&self) -> usize {
        let (ho, wo) = self.out_hw();
        ho * wo
    }

    fn in_len(&self) -> usize {
        self.c * self.h * self.w
    }

    fn check(&self) -> Result<()> {
        if self.stride == 0
            || self.h + 2 * self.pad.0 < self.kh
            || self.w + 2 * self.pad.1 < self.kw
        {
            candle_core::bail!("convolution: kernel larger than the padded input: {self:?}");
        }
        Ok(())
    }
}

/// `act(conv(x, kernel) + bias)`: x (n, c, h, w), kernel (o, c, kh, kw),
/// bias (o) → (n, o, ho, wo), with `stride` on both axes and `pad` zeros on
/// each side of (height, width). `act` None is the identity; ReLU runs
/// fused with the convolution on the CPU.
pub fn conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    stride: usize,
    pad: (usize, usize),
    act: Option<Activation>,
) -> Result<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    let (o, c2, kh, kw) = kernel.dims4()?;
    if c != c2 {
        candle_core::bail!("conv2d: input has {c} channels, kernel expects {c2}");
    }
    let g = ConvGeom {
        c,
        h,
        w,
        o,
        kh,
        kw,
        stride,
        pad,
    };
    g.check()?;
    if x.device().is_cpu() {
        let relu = act == Some(Activation::Relu);
        let y = x.contiguous()?.apply_op3(
            &kernel.contiguous()?,
            &bias.contiguous()?,
            Conv { g, relu },
        )?;
        activate(y, act, relu)
    } else {
        activate(candle_conv2d(x, kernel, bias, g)?, act, false)
    }
}

/// Applies `act` unless the operation already did.
fn activate(y: Tensor, act: Option<Activation>, done: bool) -> Result<Tensor> {
    match act {
        Some(a) if !done => a.apply(&y),
        _ => Ok(y),
    }
}

/// `act(transposed convolution + bias)`: the adjoint of [`conv2d`]'s map
/// from inputs of (height, width) = `out_hw` with this `kernel` (o, c, kh,
/// kw), `stride` and `pad`. y (n, o, ho, wo), bias (c) → (n, c, out_hw).
/// This is PyTorch's `ConvTranspose2d(o, c, (kh, kw), stride, pad)` with
/// the output padding that gives `out_hw`.
pub fn conv_transpose2d(
    y: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    stride: usize,
    pad: (usize, usize),
    out_hw: (usize, usize),
    act: Option<Activation>,
) -> Result<Tensor> {
    let (_, o, ho, wo) = y.dims4()?;
    let (o2, c, kh, kw) = kernel.dims4()?;
    if o != o2 {
        candle_core::bail!("conv_transpose2d: input has {o} channels, kernel expects {o2}");
    }
    let g = ConvGeom {
        c,
        h: out_hw.0,
        w: out_hw.1,
        o,
        kh,
        kw,
        stride,
        pad,
    };
    g.check()?;
    if g.out_hw() != (ho, wo) {
        candle_core::bail!(
            "conv_transpose2d: a {ho} × {wo} input cannot come from {out_hw:?} with {g:?}"
        );
    }
    if y.device().is_cpu() {
        let relu = act == Some(Activation::Relu);
        let x = y.contiguous()?.apply_op3(
            &kernel.contiguous()?,
            &bias.contiguous()?,
            ConvTranspose { g, relu },
        )?;
        activate(x, act, relu)
    } else {
        activate(candle_conv_transpose2d(y, kernel, bias, g)?, act, false)
    }
}

// ---------------------------------------------------------------------------
// candle's own operations (any device; the reference in the tests)

/// Zero padding, then candle's conv2d. candle's conv2d gradient takes one
/// output padding, computed from the height, for both axes; when the two
/// padded axes leave different remainders under the stride, one trailing
/// zero row (or column) on the axis with remainder 0 evens them without
/// changing the output size (⌊(n + 1 − k)/2⌋ = ⌊(n − k)/2⌋ for even n − k).
pub(crate) fn candle_conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    g: ConvGeom,
) -> Result<Tensor> {
    let (hp, wp) = (g.h + 2 * g.pad.0, g.w + 2 * g.pad.1);
    let (rh, rw) = ((hp - g.kh) % g.stride, (wp - g.kw) % g.stride);
    let (extra_h, extra_w) = if g.stride == 2 {
        match (rh, rw) {
            (0, 1) => (1, 0),
            (1, 0) => (0, 1),
            _ => (0, 0),
        }
    } else {
        (0, 0)
    };
    x.pad_with_zeros(2, g.pad.0, g.pad.0 + extra_h)?
        .pad_with_zeros(3, g.pad.1, g.pad.1 + extra_w)?
        .conv2d(kernel, 0, g.stride, 1, 1)?
        .broadcast_add(&bias.reshape((1, g.o, 1, 1))?)
}

/// candle's conv_transpose2d without padding, cropped to `pad` from the
/// start of each axis and to (h, w); zero-extended where the full output is
/// shorter (kernel 1 on an even length).
pub(crate) fn candle_conv_transpose2d(
    y: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    g: ConvGeom,
) -> Result<Tensor> {
    let mut full = y.conv_transpose2d(kernel, 0, 0, g.stride, 1)?;
    for (axis, pad, len) in [(2, g.pad.0, g.h), (3, g.pad.1, g.w)] {
        let have = full.dim(axis)?;
        if have < pad + len {
            full = full.pad_with_zeros(axis, 0, pad + len - have)?;
        }
        full = full.narrow(axis, pad, len)?;
    }
    full.broadcast_add(&bias.reshape((1, g.c, 1, 1))?)
}

// ---------------------------------------------------------------------------
// The CPU operations

/// Forward convolution with bias (and ReLU): (x, kernel, bias) → y.
struct Conv {
    g: ConvGeom,
    relu: bool,
}

/// Transposed convolution with bias (and ReLU): (y, kernel, bias) → maps.
struct ConvTranspose {
    g: ConvGeom,
    relu: bool,
}

/// The bias gradient: per channel, the sum of a contiguous (n, channels,
/// …) gradient over images and positions, in a fixed order.
fn channel_sums(grad: &Tensor, channels: usize) -> Result<Tensor> {
    let n = grad.dim(0)?;
    let sums = with_values(grad, "bias gradient", |g| {
        let plane = g.len() / (n * channels).max(1);
        let mut sums = vec![0f32; channels];
        for image in g.chunks(channels * plane) {
            for (s, map) in sums.iter_mut().zip(image.chunks(plane)) {
                *s += host::sum(map);
            }
        }
        Ok(sums)
    })?;
    Tensor::from_vec(sums, channels, grad.device())
}

/// The gradient reaching the product: through the ReLU when there is one.
fn through_relu(relu: bool, grad: &Tensor, res: &Tensor) -> Result<Tensor> {
    let grad = grad.contiguous()?;
    if !relu {
        return Ok(grad);
    }
    let g = with_values(&grad, "relu gradient", |g| {
        with_values(res, "relu gradient", |y| Ok(host::relu_backward(g, y)))
    })?;
    Tensor::from_vec(g, grad.shape(), grad.device())
}

/// Forward convolution without bias (inside gradients; no gradient of its own).
struct ConvNoBias {
    g: ConvGeom,
}

/// Transposed convolution without bias (inside gradients).
struct ConvTransposeNoBias {
    g: ConvGeom,
}

/// The kernel gradient: (x, g) → (o, c, kh, kw).
struct KernelGrad {
    g: ConvGeom,
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "vaerun-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let k = f32_slice(s2, l2, self.name())?;
        let b = f32_slice(s3, l3, self.name())?;
        let n = l1.dims()[0];
        let (ho, wo) = self.g.out_hw();
        let mut y = forward(&self.g, n, x, k, Some(b));
        if self.relu {
            host::relu(&mut y);
        }
        Ok((CpuStorage::F32(y), Shape::from((n, self.g.o, ho, wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = through_relu(self.relu, grad, res)?;
        let g = self.g;
        let dx = x
            .track_op()
            .then(|| grad.apply_op2_no_bwd(kernel, &ConvTransposeNoBias { g }))
            .transpose()?;
        let dk = kernel
            .track_op()
            .then(|| x.apply_op2_no_bwd(&grad, &KernelGrad { g }))
            .transpose()?;
        let db = bias
            .track_op()
            .then(|| channel_sums(&grad, g.o))
            .transpose()?;
        Ok((dx, dk, db))
    }
}

impl CustomOp3 for ConvTranspose {
    fn name(&self) -> &'static str {
        "vaerun-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, self.name())?;
        let k = f32_slice(s2, l2, self.name())?;
        let b = f32_slice(s3, l3, self.name())?;
        let n = l1.dims()[0];
        let g = &self.g;
        let mut x = backward_data(g, n, y, k, Some(b));
        if self.relu {
            host::relu(&mut x);
        }
        Ok((CpuStorage::F32(x), Shape::from((n, g.c, g.h, g.w))))
    }

    fn bwd(
        &self,
        y: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // out = T(y, W) with T the adjoint of conv in its input, so
        // ∂L/∂y = conv(∂L/∂out, W) and ∂L/∂W = KernelGrad(∂L/∂out, y).
        let grad = through_relu(self.relu, grad, res)?;
        let g = self.g;
        let dy = y
            .track_op()
            .then(|| grad.apply_op2_no_bwd(kernel, &ConvNoBias { g }))
            .transpose()?;
        let dk = kernel
            .track_op()
            .then(|| grad.apply_op2_no_bwd(y, &KernelGrad { g }))
            .transpose()?;
        let db = bias
            .track_op()
            .then(|| channel_sums(&grad, g.c))
            .transpose()?;
        Ok((dy, dk, db))
    }
}

impl CustomOp2 for ConvNoBias {
    fn name(&self) -> &'static str {
        "vaerun-conv2d-nobias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let k = f32_slice(s2, l2, self.name())?;
        let n = l1.dims()[0];
        let (ho, wo) = self.g.out_hw();
        let y = forward(&self.g, n, x, k, None);
        Ok((CpuStorage::F32(y), Shape::from((n, self.g.o, ho, wo))))
    }
}

impl CustomOp2 for ConvTransposeNoBias {
    fn name(&self) -> &'static str {
        "vaerun-conv-transpose2d-nobias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, self.name())?;
        let k = f32_slice(s2, l2, self.name())?;
        let n = l1.dims()[0];
        let g = &self.g;
        let x = backward_data(g, n, y, k, None);
        Ok((CpuStorage::F32(x), Shape::from((n, g.c, g.h, g.w))))
    }
}

impl CustomOp2 for KernelGrad {
    fn name(&self) -> &'static str {
        "vaerun-conv2d-kernel-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let gy = f32_slice(s2, l2, self.name())?;
        let n = l1.dims()[0];
        let g = &self.g;
        let dk = kernel_grad(g, n, x, gy);
        Ok((CpuStorage::F32(dk), Shape::from((g.o, g.c, g.kh, g.kw))))
    }
}

// ---------------------------------------------------------------------------
// Kernels on slices

thread_local! {
    /// Each worker's patch matrix and phase planes, kept between calls so
    /// that these (often megabytes large) buffers are not mapped and
    /// faulted in again per image.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's patch buffer of `k · p` values and its
/// phase buffer for one image (contents unspecified). `f` must not re-enter
/// rayon (that could start another task on this thread that asks for the
/// same buffers).
fn with_scratch<R>(g: &ConvGeom, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (col, phases) = &mut *s;
        let (nc, np) = (g.k() * g.p(), g.in_len());
        if col.len() < nc {
            col.resize(nc, 0.0);
        }
        if phases.len() < np {
            phases.resize(np, 0.0);
        }
        f(&mut col[..nc], &mut phases[..np])
    })
}

/// An image split by stride phase: for stride s, plane (a, b) of a channel
/// holds the pixels (r·s + a, q·s + b). Every kernel tap then reads one
/// phase plane at unit stride, so the patch matrix is built from
/// contiguous copies instead of strided gathers (and added back the same
/// way). Per channel the s² planes lie one after another, (a, b) in order.
struct Phases {
    s: usize,
    /// (offset in the channel, rows, columns) of plane (a, b) at a·s + b.
    planes: Vec<(usize, usize, usize)>,
}

impl Phases {
    fn new(g: &ConvGeom) -> Phases {
        let s = g.stride;
        let count = |len: usize, phase: usize| (len + s - 1 - phase.min(len)) / s;
        let mut planes = Vec::with_capacity(s * s);
        let mut off = 0;
        for a in 0..s {
            for b in 0..s {
                let (rows, cols) = (count(g.h, a), count(g.w, b));
                planes.push((off, rows, cols));
                off += rows * cols;
            }
        }
        Phases { s, planes }
    }

    /// The plane and the shift a kernel tap at offset `t` (tap − pad, in
    /// input pixels) reads with: input index o·s + t = (o + shift)·s + phase.
    fn tap(&self, t: isize) -> (usize, isize) {
        let s = self.s as isize;
        (t.rem_euclid(s) as usize, t.div_euclid(s))
    }

    /// Splits one image (c, h, w) into `out`.
    fn split(&self, g: &ConvGeom, x: &[f32], out: &mut [f32]) {
        let (hw, s) = (g.h * g.w, self.s);
        for (src, dst) in x.chunks(hw).zip(out.chunks_mut(hw)) {
            for a in 0..s {
                for b in 0..s {
                    let (off, rows, cols) = self.planes[a * s + b];
                    for r in 0..rows {
                        let row = &src[(r * s + a) * g.w + b..];
                        for (d, v) in dst[off + r * cols..off + (r + 1) * cols]
                            .iter_mut()
                            .zip(row.iter().step_by(s))
                        {
                            *d = *v;
                        }
                    }
                }
            }
        }
    }

    /// Adds the phase planes back onto one image (the adjoint of `split`).
    fn merge_add(&self, g: &ConvGeom, planes: &[f32], x: &mut [f32]) {
        let (hw, s) = (g.h * g.w, self.s);
        for (src, dst) in planes.chunks(hw).zip(x.chunks_mut(hw)) {
            for a in 0..s {
                for b in 0..s {
                    let (off, rows, cols) = self.planes[a * s + b];
                    for r in 0..rows {
                        let row = &mut dst[(r * s + a) * g.w + b..];
                        for (d, v) in row
                            .iter_mut()
                            .step_by(s)
                            .zip(&src[off + r * cols..off + (r + 1) * cols])
                        {
                            *d += *v;
                        }
                    }
                }
            }
        }
    }
}

/// For each patch-matrix row (ci, i, j) in order: the row's index, the
/// channel, the phase plane it reads and the output range whose input lies
/// inside the image: rows `oh` with `oh + dr` in `0..plane rows`, columns
/// `ow_lo..ow_hi`, reading plane column `ow + dq`.
struct Tap {
    r: usize,
    ci: usize,
    plane: (usize, usize, usize),
    dr: isize,
    dq: isize,
    ow_lo: usize,
    ow_hi: usize,
}

fn taps<'a>(g: &'a ConvGeom, ph: &'a Phases) -> impl Iterator<Item = Tap> + 'a {
    let wo = g.out_hw().1;
    (0..g.c).flat_map(move |ci| {
        (0..g.kh).flat_map(move |i| {
            (0..g.kw).map(move |j| {
                let (a, dr) = ph.tap(i as isize - g.pad.0 as isize);
                let (b, dq) = ph.tap(j as isize - g.pad.1 as isize);
                let plane = ph.planes[a * ph.s + b];
                let cols = plane.2 as isize;
                let ow_lo = (-dq).clamp(0, wo as isize) as usize;
                let ow_hi = (cols - dq).clamp(ow_lo as isize, wo as isize) as usize;
                Tap {
                    r: (ci * g.kh + i) * g.kw + j,
                    ci,
                    plane,
                    dr,
                    dq,
                    ow_lo,
                    ow_hi,
                }
            })
        })
    })
}

/// The (K, P) patch matrix of one image: row (ci, i, j) holds, for every
/// output position, the input value under kernel tap (i, j) of channel ci
/// (zero in the padding). `split` is scratch for the phase planes.
fn im2col(g: &ConvGeom, x: &[f32], split: &mut [f32], col: &mut [f32]) {
    let (ho, wo) = g.out_hw();
    let ph = Phases::new(g);
    let src: &[f32] = if g.stride == 1 {
        x
    } else {
        ph.split(g, x, split);
        split
    };
    let hw = g.h * g.w;
    for t in taps(g, &ph) {
        let (off, rows, cols) = t.plane;
        let plane = &src[t.ci * hw + off..t.ci * hw + off + rows * cols];
        let row = &mut col[t.r * ho * wo..(t.r + 1) * ho * wo];
        for (oh, dst) in row.chunks_mut(wo).enumerate() {
            let pr = oh as isize + t.dr;
            if pr < 0 || pr >= rows as isize {
                dst.fill(0.0);
                continue;
            }
            dst[..t.ow_lo].fill(0.0);
            dst[t.ow_hi..].fill(0.0);
            let start = pr as usize * cols + (t.ow_lo as isize + t.dq) as usize;
            dst[t.ow_lo..t.ow_hi].copy_from_slice(&plane[start..start + t.ow_hi - t.ow_lo]);
        }
    }
}

/// Adds the (K, P) patch matrix onto one image's maps (the adjoint of
/// [`im2col`]), row by row in order. `split` is scratch.
fn col2im(g: &ConvGeom, col: &[f32], split: &mut [f32], x: &mut [f32]) {
    let (ho, wo) = g.out_hw();
    let ph = Phases::new(g);
    let hw = g.h * g.w;
    let dst: &mut [f32] = if g.stride == 1 {
        x
    } else {
        split.fill(0.0);
        split
    };
    for t in taps(g, &ph) {
        let (off, rows, cols) = t.plane;
        let plane = &mut dst[t.ci * hw + off..t.ci * hw + off + rows * cols];
        let row = &col[t.r * ho * wo..(t.r + 1) * ho * wo];
        for (oh, src) in row.chunks(wo).enumerate() {
            let pr = oh as isize + t.dr;
            if pr < 0 || pr >= rows as isize {
                continue;
            }
            let start = pr as usize * cols + (t.ow_lo as isize + t.dq) as usize;
            host::add_assign(
                &mut plane[start..start + t.ow_hi - t.ow_lo],
                &src[t.ow_lo..t.ow_hi],
            );
        }
    }
    if g.stride != 1 {
        ph.merge_add(g, split, x);
    }
}

/// y (n, o, P) = kernel (o, K) · col(x) [+ bias].
fn forward(g: &ConvGeom, n: usize, x: &[f32], kernel: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    let mut y = vec![0f32; n * g.o * p];
    y.par_chunks_mut(g.o * p)
        .zip(x.par_chunks(g.in_len()))
        .for_each(|(y, x)| {
            if let Some(b) = bias {
                for (row, &b) in y.chunks_mut(p).zip(b) {
                    row.fill(b);
                }
            }
            with_scratch(g, |col, split| {
                im2col(g, x, split, col);
                matmul(
                    g.o,
                    p,
                    k,
                    y,
                    (p, 1),
                    bias.is_some(),
                    kernel,
                    (k, 1),
                    col,
                    (p, 1),
                    ONE,
                );
            });
        });
    y
}

/// The transposed convolution: x (n, c, h, w) = col2im(kernelᵀ · y) [+ bias].
fn backward_data(
    g: &ConvGeom,
    n: usize,
    y: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    let mut x = vec![0f32; n * g.in_len()];
    x.par_chunks_mut(g.in_len())
        .zip(y.par_chunks(g.o * p))
        .for_each(|(x, y)| {
            if let Some(b) = bias {
                for (plane, &b) in x.chunks_mut(g.h * g.w).zip(b) {
                    plane.fill(b);
                }
            }
            with_scratch(g, |col, split| {
                matmul(
                    k,
                    p,
                    g.o,
                    col,
                    (p, 1),
                    false,
                    kernel,
                    (1, k),
                    y,
                    (p, 1),
                    ONE,
                );
                col2im(g, col, split, x);
            });
        });
    x
}

/// The kernel gradient Σ_images gy · col(x)ᵀ, summed in fixed groups.
/// Each group's sum is formed transposed, (K, o) in memory: `gemm` runs
/// this product about 3.5× faster into a column-major destination than
/// into a row-major one (measured at the ConvVAE's 64 × 800 × 1024).
fn kernel_grad(g: &ConvGeom, n: usize, x: &[f32], gy: &[f32]) -> Vec<f32> {
    let (k, p, o) = (g.k(), g.p(), g.o);
    let groups: Vec<Vec<f32>> = (0..n.div_ceil(GROUP))
        .into_par_iter()
        .map(|gi| {
            let mut dk_t = vec![0f32; o * k];
            for (first, i) in (gi * GROUP..((gi + 1) * GROUP).min(n)).enumerate() {
                let x = &x[i * g.in_len()..(i + 1) * g.in_len()];
                let gy = &gy[i * o * p..(i + 1) * o * p];
                with_scratch(g, |col, split| {
                    im2col(g, x, split, col);
                    matmul(
                        o,
                        k,
                        p,
                        &mut dk_t,
                        (1, o),
                        first > 0,
                        gy,
                        (p, 1),
                        col,
                        (1, p),
                        ONE,
                    );
                });
            }
            dk_t
        })
        .collect();
    let mut groups = groups.into_iter();
    let mut dk_t = groups.next().unwrap_or_else(|| vec![0f32; o * k]);
    for part in groups {
        host::add_assign(&mut dk_t, &part);
    }
    let mut dk = vec![0f32; o * k];
    for (r, row) in dk_t.chunks(o).enumerate() {
        for (oi, v) in row.iter().enumerate() {
            dk[oi * k + r] = *v;
        }
    }
    dk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::tests::max_diff;
    use candle_core::{Device, Var};
    use rand::{Rng, SeedableRng};

    fn rand_tensor(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Geometries of the ConvVAE (1-D as height 1, 2-D) with odd and even
    /// sizes, a 1 × 1 kernel and stride 1.
    fn geometries() -> Vec<ConvGeom> {
        let g = |c, h, w, o, kh, kw, stride, pad| ConvGeom {
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            pad,
        };
        vec![
            g(3, 1, 37, 4, 1, 5, 2, (0, 2)),
            g(2, 1, 8, 3, 1, 3, 2, (0, 1)),
            g(1, 7, 13, 4, 3, 3, 2, (1, 1)),
            g(2, 6, 31, 3, 5, 5, 2, (2, 2)),
            g(2, 9, 10, 3, 3, 3, 1, (1, 1)),
            g(3, 4, 6, 2, 1, 1, 2, (0, 0)),
            g(1, 2, 2, 2, 3, 3, 2, (1, 1)),
        ]
    }

    /// Values and every gradient of both operations agree with candle's
    /// own conv2d / conv_transpose2d (the GPU path), for a loss that weighs
    /// every output differently.
    #[test]
    fn matches_candles_convolutions_and_their_gradients() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        for g in geometries() {
            let n = 3;
            let (ho, wo) = g.out_hw();
            let x = Var::from_tensor(&rand_tensor(&mut rng, &[n, g.c, g.h, g.w])).unwrap();
            let k = Var::from_tensor(&rand_tensor(&mut rng, &[g.o, g.c, g.kh, g.kw])).unwrap();
            let b = Var::from_tensor(&rand_tensor(&mut rng, &[g.o])).unwrap();
            let bt = Var::from_tensor(&rand_tensor(&mut rng, &[g.c])).unwrap();
            let y = Var::from_tensor(&rand_tensor(&mut rng, &[n, g.o, ho, wo])).unwrap();
            let wy = rand_tensor(&mut rng, &[n, g.o, ho, wo]);
            let wx = rand_tensor(&mut rng, &[n, g.c, g.h, g.w]);

            for act in [None, Some(Activation::Relu)] {
                let theirs_act = |t: Tensor| match act {
                    Some(a) => a.apply(&t).unwrap(),
                    None => t,
                };
                let ours = conv2d(&x, &k, &b, g.stride, g.pad, act).unwrap();
                let theirs = theirs_act(candle_conv2d(&x, &k, &b, g).unwrap());
                // f32 sums of up to c·kh·kw = 50 products of values in ±1,
                // accumulated in a different order.
                assert!(max_diff(&ours, &theirs) < 1e-5, "{g:?}");
                let go = (ours * &wy).unwrap().sum_all().unwrap().backward().unwrap();
                let gt = (theirs * &wy)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                for v in [&x, &k, &b] {
                    let (a, c) = (go.get(v).unwrap(), gt.get(v).unwrap());
                    // Kernel gradients sum n · ho · wo products.
                    assert!(max_diff(a, c) < 1e-4, "{g:?} {act:?} conv gradient");
                }

                let ours = conv_transpose2d(&y, &k, &bt, g.stride, g.pad, (g.h, g.w), act).unwrap();
                let theirs = theirs_act(candle_conv_transpose2d(&y, &k, &bt, g).unwrap());
                assert!(max_diff(&ours, &theirs) < 1e-5, "{g:?} transposed");
                let go = (ours * &wx).unwrap().sum_all().unwrap().backward().unwrap();
                let gt = (theirs * &wx)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                for v in [&y, &k, &bt] {
                    let (a, c) = (go.get(v).unwrap(), gt.get(v).unwrap());
                    assert!(max_diff(a, c) < 1e-4, "{g:?} {act:?} transposed gradient");
                }
            }
        }
    }

    /// The kernel gradient against central finite differences in f64 of
    /// the loss, independently of candle's convolutions.
    #[test]
    fn kernel_and_input_gradients_match_finite_differences() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let g = ConvGeom {
            c: 2,
            h: 5,
            w: 7,
            o: 3,
            kh: 3,
            kw: 3,
            stride: 2,
            pad: (1, 1),
        };
        let n = 2;
        let (ho, wo) = g.out_hw();
        let x = rand_tensor(&mut rng, &[n, g.c, g.h, g.w]);
        let k = Var::from_tensor(&rand_tensor(&mut rng, &[g.o, g.c, g.kh, g.kw])).unwrap();
        let b = Tensor::zeros(g.o, candle_core::DType::F32, &Device::Cpu).unwrap();
        let wy = rand_tensor(&mut rng, &[n, g.o, ho, wo]);
        let xv = Var::from_tensor(&x).unwrap();
        let loss = |xt: &Tensor, kt: &Tensor| -> f64 {
            let xt = xt.to_dtype(candle_core::DType::F64).unwrap();
            let kt = kt.to_dtype(candle_core::DType::F64).unwrap();
            // The definition, in f64: y[o, a, b] = Σ x[ci, a·s + i − p, b·s + j − p] · k[o, ci, i, j].
            let xs: Vec<f64> = xt.flatten_all().unwrap().to_vec1().unwrap();
            let ks: Vec<f64> = kt.flatten_all().unwrap().to_vec1().unwrap();
            let ws: Vec<f32> = wy.flatten_all().unwrap().to_vec1().unwrap();
            let mut total = 0.0;
            for im in 0..n {
                for o in 0..g.o {
                    for a in 0..ho {
                        for bb in 0..wo {
                            let mut y = 0.0;
                            for ci in 0..g.c {
                                for i in 0..g.kh {
                                    for j in 0..g.kw {
                                        let ih = (a * g.stride + i) as isize - g.pad.0 as isize;
                                        let iw = (bb * g.stride + j) as isize - g.pad.1 as isize;
                                        if ih < 0
                                            || iw < 0
                                            || ih >= g.h as isize
                                            || iw >= g.w as isize
                                        {
                                            continue;
                                        }
                                        let xi = ((im * g.c + ci) * g.h + ih as usize) * g.w
                                            + iw as usize;
                                        let ki = ((o * g.c + ci) * g.kh + i) * g.kw + j;
                                        y += xs[xi] * ks[ki];
                                    }
                                }
                            }
                            total += y * ws[((im * g.o + o) * ho + a) * wo + bb] as f64;
                        }
                    }
                }
            }
            total
        };
        let ours = conv2d(&xv, &k, &b, g.stride, g.pad, None).unwrap();
        assert!(
            ((ours
                .mul(&wy)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap() as f64)
                - loss(&x, k.as_tensor()))
            .abs()
                < 1e-4
        );
        let grads = ours
            .mul(&wy)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        // The loss is linear in each argument, so a central difference with
        // step 1 is exact up to f64 rounding.
        for (v, other, is_kernel) in [(&k, x.clone(), true), (&xv, k.as_tensor().clone(), false)] {
            let base: Vec<f32> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let got: Vec<f32> = grads
                .get(v)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for idx in 0..base.len() {
                let bump = |d: f32| {
                    let mut w = base.clone();
                    w[idx] += d;
                    Tensor::from_vec(w, v.dims(), &Device::Cpu).unwrap()
                };
                let fd = if is_kernel {
                    (loss(&other, &bump(1.0)) - loss(&other, &bump(-1.0))) / 2.0
                } else {
                    (loss(&bump(1.0), &other) - loss(&bump(-1.0), &other)) / 2.0
                };
                // f32 accumulation of up to n·ho·wo products in ±1.
                assert!(
                    (got[idx] as f64 - fd).abs() < 1e-4,
                    "{idx}: {} vs {fd}",
                    got[idx]
                );
            }
        }
    }

    /// The kernel gradient of a batch is the same bits at any thread count.
    #[test]
    fn kernel_gradient_does_not_depend_on_threads() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        let g = ConvGeom {
            c: 3,
            h: 9,
            w: 20,
            o: 4,
            kh: 3,
            kw: 3,
            stride: 2,
            pad: (1, 1),
        };
        let n = 11;
        let (ho, wo) = g.out_hw();
        let x: Vec<f32> = (0..n * g.in_len())
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let gy: Vec<f32> = (0..n * g.o * ho * wo)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| kernel_grad(&g, n, &x, &gy))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
