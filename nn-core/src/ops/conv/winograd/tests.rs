//! Winograd tests: equality with the im2col path, thread-count independence.

use super::super::geometry::{Conv2dOptions, Geom};
use super::{applies, backward, forward};
use crate::rng::seeded;
use crate::tensor::Tensor;

/// Winograd equals the im2col path (forward, input and weight gradients).
#[test]
fn equals_im2col() {
    for (n, cin, cout, h, w, p) in [
        (2, 16, 16, 8, 8, 1),
        (3, 16, 20, 7, 5, 1),
        (1, 17, 16, 6, 9, 0),
        (5, 16, 16, 4, 4, 2),
        (2, 32, 16, 3, 3, 1),
    ] {
        let o = Conv2dOptions::default().with_padding(p);
        let g = Geom::new(&[n, cin, h, w], &[cout, cin, 3, 3], &o);
        assert!(applies(&g));
        let mut rng = seeded(n as u64 + h as u64);
        let x = Tensor::randn(&[n, cin, h, w], 0.0, 1.0, &mut rng).to_vec();
        let wt = Tensor::randn(&[cout, cin, 3, 3], 0.0, 1.0, &mut rng).to_vec();
        let bias = Tensor::randn(&[cout], 0.0, 1.0, &mut rng).to_vec();
        let dy = Tensor::randn(&g.out_shape(), 0.0, 1.0, &mut rng).to_vec();
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len());
            for (i, (u, v)) in a.iter().zip(b).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                    "{what}[{i}] {u} vs {v} ({g:?})"
                );
            }
        };
        let yw = forward(&g, &x, &wt, Some(&bias));
        let yi = super::super::forward::forward(&g, &x, &wt, Some(&bias));
        close(&yw, &yi, "y");
        let gw = backward(&g, &x, &wt, &dy, true, true);
        let gi = super::super::backward::backward(&g, &x, &wt, &dy, (true, true, false));
        close(gw.dx.as_ref().unwrap(), gi.dx.as_ref().unwrap(), "dx");
        close(gw.dw.as_ref().unwrap(), gi.dw.as_ref().unwrap(), "dw");
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let o = Conv2dOptions::default().with_padding(1);
    let g = Geom::new(&[37, 16, 6, 6], &[16, 16, 3, 3], &o);
    let mut rng = seeded(4);
    let x = Tensor::randn(&[37, 16, 6, 6], 0.0, 1.0, &mut rng).to_vec();
    let wt = Tensor::randn(&[16, 16, 3, 3], 0.0, 1.0, &mut rng).to_vec();
    let dy = Tensor::randn(&g.out_shape(), 0.0, 1.0, &mut rng).to_vec();
    let run = |threads| {
        crate::workers::on_threads(threads, || {
            let r = backward(&g, &x, &wt, &dy, true, true);
            (forward(&g, &x, &wt, None), r.dx.unwrap(), r.dw.unwrap())
        })
    };
    assert_eq!(run(1), run(3));
}
