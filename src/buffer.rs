//! Large sample and feature buffers backed by transparent huge pages where the kernel
//! offers them (Linux, THP in `madvise` mode, the common default).
//!
//! A 5-minute clip is 53 MB of f32: with 4 KB pages, first touching it costs
//! 13 000 page faults, as much time as decoding it. Advising huge pages
//! before the first write cuts that to ~26 faults; elsewhere this is a plain
//! zeroed Vec.

/// Buffers below this are left alone (page faults are a small share there).
const HUGE_MIN_BYTES: usize = 4 << 20;

/// `vec![T::default(); len]` for a type whose default is all-zero bytes
/// (f32, f64, integers), advised to use huge pages if it is large. The
/// zeroed allocation is lazily mapped, so the advice lands before any page
/// exists.
pub fn zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    advise_huge(&v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge<T>(v: &[T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < HUGE_MIN_BYTES {
        return;
    }
    let start = v.as_ptr() as usize;
    let aligned = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > aligned {
        // SAFETY: [aligned, end) lies inside v's allocation; MADV_HUGEPAGE
        // only changes how the kernel backs those pages, never their
        // contents. A failure (no THP support) leaves ordinary pages.
        unsafe {
            libc::madvise(
                aligned as *mut libc::c_void,
                end - aligned,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge<T>(_: &[T]) {}
