//! The fused element loops: one pass over a parameter, its gradient and its state buffers,
//! without allocation.
//!
//! When every array is contiguous in standard layout the loop runs over flat slices (plain
//! indexed loops that the compiler vectorises); above [`PAR_MIN`] elements the slices are cut
//! into fixed chunks of [`CHUNK`] elements processed by rayon's threads. Each element is updated
//! independently, so the result is the same whatever the number of threads. Other layouts go
//! through a serial `ndarray::Zip`.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Zip};
use rayon::prelude::*;

/// Parameters with at least this many elements are updated in parallel.
pub const PAR_MIN: usize = 1 << 15;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

fn contiguous(p: &ArrayViewMutD<'_, f32>, g: &ArrayViewD<'_, f32>) -> bool {
    p.is_standard_layout() && g.is_standard_layout()
}

fn buf(a: &mut ArrayD<f32>) -> &mut [f32] {
    a.as_slice_mut()
        .expect("optimizer state buffers are contiguous")
}

/// `f(θ, g)` for every element.
pub(crate) fn run2<F>(p: &mut ArrayViewMutD<'_, f32>, g: &ArrayViewD<'_, f32>, f: F)
where
    F: Fn(&mut f32, f32) + Sync + Send,
{
    #[inline(always)]
    fn serial<F: Fn(&mut f32, f32)>(p: &mut [f32], g: &[f32], f: &F) {
        let g = &g[..p.len()];
        for i in 0..p.len() {
            f(&mut p[i], g[i]);
        }
    }
    if !contiguous(p, g) {
        return Zip::from(p.view_mut()).and(g).for_each(|p, &g| f(p, g));
    }
    let (ps, gs) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap());
    if ps.len() >= PAR_MIN {
        ps.par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK))
            .for_each(|(p, g)| serial(p, g, &f));
    } else {
        serial(ps, gs, &f);
    }
}

/// `f(θ, g, a)` for every element.
pub(crate) fn run3<F>(
    p: &mut ArrayViewMutD<'_, f32>,
    g: &ArrayViewD<'_, f32>,
    a: &mut ArrayD<f32>,
    f: F,
) where
    F: Fn(&mut f32, f32, &mut f32) + Sync + Send,
{
    #[inline(always)]
    fn serial<F: Fn(&mut f32, f32, &mut f32)>(p: &mut [f32], g: &[f32], a: &mut [f32], f: &F) {
        let n = p.len();
        let (g, a) = (&g[..n], &mut a[..n]);
        for i in 0..n {
            f(&mut p[i], g[i], &mut a[i]);
        }
    }
    if !contiguous(p, g) {
        return Zip::from(p.view_mut())
            .and(g)
            .and(a)
            .for_each(|p, &g, a| f(p, g, a));
    }
    let (ps, gs, a) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap(), buf(a));
    if ps.len() >= PAR_MIN {
        ps.par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK))
            .zip(a.par_chunks_mut(CHUNK))
            .for_each(|((p, g), a)| serial(p, g, a, &f));
    } else {
        serial(ps, gs, a, &f);
    }
}

/// `f(θ, g, a, b)` for every element.
pub(crate) fn run4<F>(
    p: &mut ArrayViewMutD<'_, f32>,
    g: &ArrayViewD<'_, f32>,
    a: &mut ArrayD<f32>,
    b: &mut ArrayD<f32>,
    f: F,
) where
    F: Fn(&mut f32, f32, &mut f32, &mut f32) + Sync + Send,
{
    #[inline(always)]
    fn serial<F: Fn(&mut f32, f32, &mut f32, &mut f32)>(
        p: &mut [f32],
        g: &[f32],
        a: &mut [f32],
        b: &mut [f32],
        f: &F,
    ) {
        let n = p.len();
        let (g, a, b) = (&g[..n], &mut a[..n], &mut b[..n]);
        for i in 0..n {
            f(&mut p[i], g[i], &mut a[i], &mut b[i]);
        }
    }
    if !contiguous(p, g) {
        return Zip::from(p.view_mut())
            .and(g)
            .and(a)
            .and(b)
            .for_each(|p, &g, a, b| f(p, g, a, b));
    }
    let (ps, gs, a, b) = (
        p.as_slice_mut().unwrap(),
        g.as_slice().unwrap(),
        buf(a),
        buf(b),
    );
    if ps.len() >= PAR_MIN {
        ps.par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK))
            .zip(a.par_chunks_mut(CHUNK))
            .zip(b.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), a), b)| serial(p, g, a, b, &f));
    } else {
        serial(ps, gs, a, b, &f);
    }
}

/// `f(θ, g, a, b, c)` for every element.
pub(crate) fn run5<F>(
    p: &mut ArrayViewMutD<'_, f32>,
    g: &ArrayViewD<'_, f32>,
    a: &mut ArrayD<f32>,
    b: &mut ArrayD<f32>,
    c: &mut ArrayD<f32>,
    f: F,
) where
    F: Fn(&mut f32, f32, &mut f32, &mut f32, &mut f32) + Sync + Send,
{
    #[inline(always)]
    fn serial<F: Fn(&mut f32, f32, &mut f32, &mut f32, &mut f32)>(
        p: &mut [f32],
        g: &[f32],
        a: &mut [f32],
        b: &mut [f32],
        c: &mut [f32],
        f: &F,
    ) {
        let n = p.len();
        let (g, a, b, c) = (&g[..n], &mut a[..n], &mut b[..n], &mut c[..n]);
        for i in 0..n {
            f(&mut p[i], g[i], &mut a[i], &mut b[i], &mut c[i]);
        }
    }
    if !contiguous(p, g) {
        return Zip::from(p.view_mut())
            .and(g)
            .and(a)
            .and(b)
            .and(c)
            .for_each(|p, &g, a, b, c| f(p, g, a, b, c));
    }
    let (ps, gs, a, b, c) = (
        p.as_slice_mut().unwrap(),
        g.as_slice().unwrap(),
        buf(a),
        buf(b),
        buf(c),
    );
    if ps.len() >= PAR_MIN {
        ps.par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK))
            .zip(a.par_chunks_mut(CHUNK))
            .zip(b.par_chunks_mut(CHUNK))
            .zip(c.par_chunks_mut(CHUNK))
            .for_each(|((((p, g), a), b), c)| serial(p, g, a, b, c, &f));
    } else {
        serial(ps, gs, a, b, c, &f);
    }
}

/// Splits the first three buffers of a state slot for a fused loop.
pub(crate) fn three(
    bufs: &mut [ArrayD<f32>],
) -> (&mut ArrayD<f32>, &mut ArrayD<f32>, &mut ArrayD<f32>) {
    match bufs {
        [a, b, c, ..] => (a, b, c),
        _ => panic!(
            "fused::three: slot has {} buffers, expected at least 3",
            bufs.len()
        ),
    }
}

/// Splits the first two buffers of a state slot for a fused loop.
pub(crate) fn two(bufs: &mut [ArrayD<f32>]) -> (&mut ArrayD<f32>, &mut ArrayD<f32>) {
    match bufs {
        [a, b, ..] => (a, b),
        _ => panic!(
            "fused::two: slot has {} buffers, expected at least 2",
            bufs.len()
        ),
    }
}
