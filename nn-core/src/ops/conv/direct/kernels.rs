//! The register-blocked micro-kernels of the channels-last direct convolution, generic over
//! [`Simd`] (16 channels per vector). All take raw pointers into buffers whose bounds the
//! drivers in `mod.rs` establish; each documents what it reads and writes.

use crate::simd::{LANES, Simd};

/// Forward (and stride-1 input-gradient) block: `R` output pixels of one row × `CB` blocks of
/// 16 output channels.
///
/// `x` points at the top-left tap of the first pixel in a zero-padded channels-last image;
/// pixel `r` reads from `x + r·px`, tap (i, j) adds `i·row + j·col`, channel c adds `c`. `w`
/// holds the packed weights `[kh][kw][cin][CB·16]`. Returns the `R × CB` accumulators (not
/// stored).
///
/// `PX`, if not 0, is `px` known at compile time: every pixel's address is then one base
/// register plus a constant (otherwise the R addresses need R registers, more than x86 has,
/// and the loop reloads them from the stack).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gather<S: Simd, const R: usize, const CB: usize, const PX: usize>(
    x: *const f32,
    px: usize,
    row: usize,
    col: usize,
    (kh, kw, cin): (usize, usize, usize),
    w: *const f32,
) -> [[S::V; CB]; R] {
    let px = if PX == 0 { px } else { PX };
    unsafe {
        let mut acc = [[S::zero(); CB]; R];
        let mut wt = w;
        for i in 0..kh {
            for j in 0..kw {
                let xt = x.add(i * row + j * col);
                for c in 0..cin {
                    let mut wv = [S::zero(); CB];
                    for (b, v) in wv.iter_mut().enumerate() {
                        *v = S::load(wt.add(b * LANES));
                    }
                    let xc = xt.add(c);
                    for (r, a) in acc.iter_mut().enumerate() {
                        let xr = xc.add(r * px);
                        for b in 0..CB {
                            a[b] = S::bcast_fma(xr, wv[b], a[b]);
                        }
                    }
                    wt = wt.add(CB * LANES);
                }
            }
        }
        acc
    }
}

/// [`gather`] for `R` pixels at any offsets: pixel `r` reads from `x + offs[r]` (a block that
/// runs on from the end of one output row into the next). The sums are [`gather`]'s, term for
/// term, so a pixel's result does not depend on the kind of block it was computed in.
#[inline(always)]
pub(super) unsafe fn gather_at<S: Simd, const R: usize, const CB: usize>(
    x: *const f32,
    offs: &[usize; R],
    row: usize,
    col: usize,
    (kh, kw, cin): (usize, usize, usize),
    w: *const f32,
) -> [[S::V; CB]; R] {
    unsafe {
        let mut acc = [[S::zero(); CB]; R];
        // `from_fn`: its closure holds no SIMD (only pointer arithmetic, so it loses nothing
        // outside the `#[target_feature]` function) and the pointers stay in registers; a loop
        // filling `[x; R]` ran the 1×1 32→64 stride-2 forward 1.08x slower (AVX2).
        let xs: [*const f32; R] = std::array::from_fn(|r| x.add(offs[r]));
        let mut wt = w;
        for i in 0..kh {
            for j in 0..kw {
                let t = i * row + j * col;
                for c in 0..cin {
                    let mut wv = [S::zero(); CB];
                    for (b, v) in wv.iter_mut().enumerate() {
                        *v = S::load(wt.add(b * LANES));
                    }
                    for (a, xr) in acc.iter_mut().zip(xs) {
                        let xc = xr.add(t + c);
                        for b in 0..CB {
                            a[b] = S::bcast_fma(xc, wv[b], a[b]);
                        }
                    }
                    wt = wt.add(CB * LANES);
                }
            }
        }
        acc
    }
}

/// One tap of a forward block read in place: for `R` output pixels, pixel `r` reading its `cin`
/// input channels at `xs[r]` (the tap's input pixel, or a run of zeros where the tap falls into
/// the padding), adds Σ_c x[c]·w[c][·] to the `R × CB` accumulators. `w` holds the tap's packed
/// weights `[cin][CB·16]`. Summed in [`gather`]'s order (tap by tap, channel by channel), so a
/// padded convolution read in place gives the bits of one read from a zero-padded copy.
#[inline(always)]
pub(super) unsafe fn gather_tap<S: Simd, const R: usize, const CB: usize>(
    xs: &[*const f32; R],
    cin: usize,
    w: *const f32,
    acc: &mut [[S::V; CB]; R],
) {
    unsafe {
        let mut wt = w;
        for c in 0..cin {
            let mut wv = [S::zero(); CB];
            for (b, v) in wv.iter_mut().enumerate() {
                *v = S::load(wt.add(b * LANES));
            }
            for (a, xr) in acc.iter_mut().zip(xs) {
                let xc = xr.add(c);
                for b in 0..CB {
                    a[b] = S::bcast_fma(xc, wv[b], a[b]);
                }
            }
            wt = wt.add(CB * LANES);
        }
    }
}

/// Input-gradient scatter block for strided convolutions: for `R` consecutive output pixels and
/// one tap, the `CB` blocks of 16 input channels of Σ_co dy[p, co]·w[co, ci, tap].
///
/// `dy` points at the first pixel's output gradient (pixel r at `dy + r·px`, `cout` channels);
/// `w` at the tap's packed transposed weights `[cout][CB·16]`. `PX` as for [`gather`].
#[inline(always)]
pub(super) unsafe fn scatter_tap<S: Simd, const R: usize, const CB: usize, const PX: usize>(
    dy: *const f32,
    px: usize,
    cout: usize,
    w: *const f32,
) -> [[S::V; CB]; R] {
    let px = if PX == 0 { px } else { PX };
    unsafe {
        let mut acc = [[S::zero(); CB]; R];
        for co in 0..cout {
            let mut wv = [S::zero(); CB];
            for (b, v) in wv.iter_mut().enumerate() {
                *v = S::load(w.add(co * CB * LANES + b * LANES));
            }
            for (r, a) in acc.iter_mut().enumerate() {
                let d = dy.add(r * px + co);
                for b in 0..CB {
                    a[b] = S::bcast_fma(d, wv[b], a[b]);
                }
            }
        }
        acc
    }
}

/// Weight-gradient block: for one tap and `CI` input channels, the `CB` blocks of 16 output
/// channels of Σ_pixels x[p, ci]·dy[p, co], accumulated into `acc`.
///
/// Pixels are `rows × cols` output positions; output pixel (oy, ox) reads the input at
/// `x + oy·x_row + ox·x_px` (the tap's offset and the first channel already applied) and the
/// gradient at `dy + oy·dy_row + ox·dy_px` (the first output channel applied). `dy_n` valid
/// output channels remain from `dy` (the last block may be partial).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn weight_tap<S: Simd, const CI: usize, const CB: usize>(
    x: *const f32,
    (x_row, x_px): (usize, usize),
    dy: *const f32,
    (dy_row, dy_px): (usize, usize),
    dy_n: usize,
    (rows, cols): (usize, usize),
    acc: &mut [[S::V; CB]; CI],
    prefetch_rows: bool,
) {
    unsafe {
        let full = dy_n >= CB * LANES;
        for oy in 0..rows {
            let xr = x.add(oy * x_row);
            let dr = dy.add(oy * dy_row);
            if prefetch_rows && oy + 1 < rows {
                // The next row's pixels, while this one is summed (the first pass over an image
                // reads x and dy from memory, with strides the prefetchers follow poorly).
                for ox in 0..cols {
                    prefetch(xr.add(x_row + ox * x_px));
                    prefetch(dr.add(dy_row + ox * dy_px));
                }
            }
            for ox in 0..cols {
                let xp = xr.add(ox * x_px);
                let dp = dr.add(ox * dy_px);
                let dv = load_dy::<S, CB>(dp, dy_n, full);
                for (c, a) in acc.iter_mut().enumerate() {
                    let xc = xp.add(c);
                    for b in 0..CB {
                        a[b] = S::bcast_fma(xc, dv[b], a[b]);
                    }
                }
            }
        }
    }
}

/// Asks for the cache line at `p` (a hint: no effect on results, never faults).
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it reads nothing and cannot fault.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The `CB` output-gradient vectors of one pixel at `dp`: whole vectors when `full`, else the
/// first `dy_n` valid channels with the rest zero.
#[inline(always)]
unsafe fn load_dy<S: Simd, const CB: usize>(dp: *const f32, dy_n: usize, full: bool) -> [S::V; CB] {
    unsafe {
        let mut dv = [S::zero(); CB];
        for (b, v) in dv.iter_mut().enumerate() {
            *v = if full {
                S::load(dp.add(b * LANES))
            } else {
                S::load_n(dp.add(b * LANES), dy_n.saturating_sub(b * LANES))
            };
        }
        dv
    }
}

/// Weight-gradient block over whole kernel rows, for few input channels: for `KH` kernel rows
/// and the `KWC = kw·cin` values of each (with an undilated width, a kernel row's taps and
/// channels are one contiguous run of a channels-last row), the `CB` blocks of 16 output
/// channels of Σ_pixels x[p, ·]·dy[p, co]. One pass over the pixels covers all `KH·KWC` values
/// (a stem's 27 for a 3×3 kernel on RGB), so each output-gradient vector loaded feeds
/// `KH·KWC·CB` independent fused multiply-adds instead of a few dependent ones per tap.
///
/// Output pixel (oy, ox) reads kernel row k's run at `x + k·krow + oy·x_row + ox·x_px` and the
/// gradient at `dy + oy·dy_row + ox·dy_px`; `dy_n` valid output channels remain from `dy`.
/// Returns the accumulators `[KH][KWC][CB]` (not stored).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn weight_rows<S: Simd, const KH: usize, const KWC: usize, const CB: usize>(
    x: *const f32,
    krow: usize,
    (x_row, x_px): (usize, usize),
    dy: *const f32,
    (dy_row, dy_px): (usize, usize),
    dy_n: usize,
    (rows, cols): (usize, usize),
) -> [[[S::V; CB]; KWC]; KH] {
    unsafe {
        let mut acc = [[[S::zero(); CB]; KWC]; KH];
        let full = dy_n >= CB * LANES;
        for oy in 0..rows {
            let xr = x.add(oy * x_row);
            let dr = dy.add(oy * dy_row);
            for ox in 0..cols {
                let xp = xr.add(ox * x_px);
                let dp = dr.add(ox * dy_px);
                let dv = load_dy::<S, CB>(dp, dy_n, full);
                for (k, ak) in acc.iter_mut().enumerate() {
                    let xk = xp.add(k * krow);
                    for (c, a) in ak.iter_mut().enumerate() {
                        let xc = xk.add(c);
                        for b in 0..CB {
                            a[b] = S::bcast_fma(xc, dv[b], a[b]);
                        }
                    }
                }
            }
        }
        acc
    }
}
