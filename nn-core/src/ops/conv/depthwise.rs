//! Direct kernels for depthwise convolutions (one input channel per group, `groups == C_in`):
//! there the im2col product would have a single row per group, far too thin for a GEMM, so the
//! taps are applied to whole rows of the image instead.
//!
//! With m = C_out/C_in output channels per input channel and c = ⌊o/m⌋ the input channel of
//! output channel o:
//!
//! ```text
//! y[n,o,oy,ox]   = Σ_ij w[o,0,i,j] · x[n, c, oy·sH − pH + i·dH, ox·sW − pW + j·dW]
//! ∂L/∂x[n,c,..]  = Σ_{o ∈ group c} Σ_ij w[o,0,i,j] · (dy[n,o] scattered back through tap ij)
//! ∂L/∂w[o,0,i,j] = Σ_n Σ_{oy,ox} dy[n,o,oy,ox] · x[n, c, oy·sH − pH + i·dH, ox·sW − pW + j·dW]
//! ```
//!
//! Planes are independent: the forward and input-gradient kernels run in parallel over (sample,
//! channel) planes, the weight gradient in parallel over output channels with the batch summed in
//! order (deterministic for any thread count).

use rayon::prelude::*;

use super::geometry::Geom;
use super::im2col::valid_cols;

/// Calls `f(out_index_range_start, in_index_start, len)` for every valid row segment of tap
/// (i, j): output pixels `oy·oW + lo .. oy·oW + hi` read input pixels `base, base + sW, ...`.
#[inline]
fn for_each_segment(g: &Geom, i: usize, j: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (lo, hi) = valid_cols(g.ow, g.w, g.sw, g.pw, j * g.dw);
    if lo == hi {
        return;
    }
    for oy in 0..g.oh {
        let iy = (oy * g.sh + i * g.dh) as isize - g.ph as isize;
        if iy < 0 || iy >= g.h as isize {
            continue;
        }
        let base = iy as usize * g.w + lo * g.sw + j * g.dw - g.pw;
        f(oy * g.ow + lo, base, hi - lo);
    }
}

/// Forward: `[N, C_out, oH, oW]` from `x` and `w`.
pub(crate) fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, hw, taps, mult) = (g.p(), g.hw(), g.kh * g.kw, g.cout_g());
    let mut y = crate::buffer_pool::take_zeroed(g.n * g.cout * p);
    if p == 0 {
        return y;
    }
    y.par_chunks_mut(p).enumerate().for_each(|(plane, out)| {
        let (n, o) = (plane / g.cout, plane % g.cout);
        let c = o / mult;
        let xp = &x[(n * g.cin + c) * hw..(n * g.cin + c + 1) * hw];
        if let Some(b) = bias {
            out.fill(b[o]);
        }
        for i in 0..g.kh {
            for j in 0..g.kw {
                let wv = w[o * taps + i * g.kw + j];
                for_each_segment(g, i, j, |o0, base, len| {
                    let dst = &mut out[o0..o0 + len];
                    if g.sw == 1 {
                        for (d, s) in dst.iter_mut().zip(&xp[base..base + len]) {
                            *d += wv * s;
                        }
                    } else {
                        for (t, d) in dst.iter_mut().enumerate() {
                            *d += wv * xp[base + t * g.sw];
                        }
                    }
                });
            }
        }
    });
    y
}

/// Input gradient `[N, C_in, H, W]`.
pub(crate) fn backward_input(g: &Geom, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, hw, taps, mult) = (g.p(), g.hw(), g.kh * g.kw, g.cout_g());
    let mut dx = crate::buffer_pool::take_zeroed(g.n * g.cin * hw);
    if hw == 0 {
        return dx;
    }
    dx.par_chunks_mut(hw).enumerate().for_each(|(plane, dxp)| {
        let (n, c) = (plane / g.cin, plane % g.cin);
        for o in c * mult..(c + 1) * mult {
            let dyp = &dy[(n * g.cout + o) * p..(n * g.cout + o + 1) * p];
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let wv = w[o * taps + i * g.kw + j];
                    for_each_segment(g, i, j, |o0, base, len| {
                        let src = &dyp[o0..o0 + len];
                        if g.sw == 1 {
                            for (d, s) in dxp[base..base + len].iter_mut().zip(src) {
                                *d += wv * s;
                            }
                        } else {
                            for (t, s) in src.iter().enumerate() {
                                dxp[base + t * g.sw] += wv * s;
                            }
                        }
                    });
                }
            }
        }
    });
    dx
}

/// Weight gradient `[C_out, 1, kH, kW]`.
pub(crate) fn backward_weight(g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, hw, taps, mult) = (g.p(), g.hw(), g.kh * g.kw, g.cout_g());
    let mut dw = vec![0.0f32; g.cout * taps];
    dw.par_chunks_mut(taps).enumerate().for_each(|(o, dwo)| {
        let c = o / mult;
        let mut acc = vec![0.0f64; taps];
        for n in 0..g.n {
            let xp = &x[(n * g.cin + c) * hw..(n * g.cin + c + 1) * hw];
            let dyp = &dy[(n * g.cout + o) * p..(n * g.cout + o + 1) * p];
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let mut s = 0.0f32;
                    for_each_segment(g, i, j, |o0, base, len| {
                        let d = &dyp[o0..o0 + len];
                        if g.sw == 1 {
                            s += d
                                .iter()
                                .zip(&xp[base..base + len])
                                .map(|(a, b)| a * b)
                                .sum::<f32>();
                        } else {
                            s += d
                                .iter()
                                .enumerate()
                                .map(|(t, a)| a * xp[base + t * g.sw])
                                .sum::<f32>();
                        }
                    });
                    acc[i * g.kw + j] += s as f64;
                }
            }
        }
        for (d, a) in dwo.iter_mut().zip(acc) {
            *d = a as f32;
        }
    });
    dw
}
