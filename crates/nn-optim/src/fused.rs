//! The fused element loops: one pass over a parameter, its gradient and its state buffers,
//! without allocation.
//!
//! When every array is contiguous in standard layout the loop runs over flat slices; above
//! [`PAR_MIN`] elements it is split across rayon's threads (`Zip::par_for_each`). Each element
//! is updated independently, so the result is the same whatever the number of threads.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Zip};

/// Parameters with at least this many elements are updated in parallel.
pub const PAR_MIN: usize = 1 << 15;

macro_rules! run_zip {
    ($n:expr, $zip:expr, $f:expr) => {{
        let z = $zip;
        if $n >= PAR_MIN {
            z.par_for_each($f)
        } else {
            z.for_each($f)
        }
    }};
}

fn contiguous(p: &ArrayViewMutD<'_, f32>, g: &ArrayViewD<'_, f32>) -> bool {
    p.is_standard_layout() && g.is_standard_layout()
}

/// `f(θ, g)` for every element.
pub(crate) fn run2<F>(p: &mut ArrayViewMutD<'_, f32>, g: &ArrayViewD<'_, f32>, f: F)
where
    F: Fn(&mut f32, f32) + Sync + Send,
{
    let n = p.len();
    if contiguous(p, g) {
        let (ps, gs) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap());
        run_zip!(n, Zip::from(ps).and(gs), |p: &mut f32, &g: &f32| f(p, g))
    } else {
        run_zip!(
            n,
            Zip::from(p.view_mut()).and(g),
            |p: &mut f32, &g: &f32| f(p, g)
        )
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
    let n = p.len();
    if contiguous(p, g) {
        let (ps, gs) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap());
        let a = a.as_slice_mut().unwrap();
        run_zip!(
            n,
            Zip::from(ps).and(gs).and(a),
            |p: &mut f32, &g: &f32, a: &mut f32| f(p, g, a)
        )
    } else {
        run_zip!(
            n,
            Zip::from(p.view_mut()).and(g).and(a),
            |p: &mut f32, &g: &f32, a: &mut f32| f(p, g, a)
        )
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
    let n = p.len();
    if contiguous(p, g) {
        let (ps, gs) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap());
        let (a, b) = (a.as_slice_mut().unwrap(), b.as_slice_mut().unwrap());
        run_zip!(
            n,
            Zip::from(ps).and(gs).and(a).and(b),
            |p: &mut f32, &g: &f32, a: &mut f32, b: &mut f32| f(p, g, a, b)
        )
    } else {
        run_zip!(
            n,
            Zip::from(p.view_mut()).and(g).and(a).and(b),
            |p: &mut f32, &g: &f32, a: &mut f32, b: &mut f32| f(p, g, a, b)
        )
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
    let n = p.len();
    if contiguous(p, g) {
        let (ps, gs) = (p.as_slice_mut().unwrap(), g.as_slice().unwrap());
        let (a, b, c) = (
            a.as_slice_mut().unwrap(),
            b.as_slice_mut().unwrap(),
            c.as_slice_mut().unwrap(),
        );
        run_zip!(
            n,
            Zip::from(ps).and(gs).and(a).and(b).and(c),
            |p: &mut f32, &g: &f32, a: &mut f32, b: &mut f32, c: &mut f32| f(p, g, a, b, c)
        )
    } else {
        run_zip!(
            n,
            Zip::from(p.view_mut()).and(g).and(a).and(b).and(c),
            |p: &mut f32, &g: &f32, a: &mut f32, b: &mut f32, c: &mut f32| f(p, g, a, b, c)
        )
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
