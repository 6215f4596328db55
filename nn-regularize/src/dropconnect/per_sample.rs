//! DropConnect with one weight mask per example (Wan et al.'s formulation), as one fused op.
//!
//! For input rows xᵦ (B×in), weight W (out×in), bias b and masks Mᵦ ~ Bernoulli(q)^{out×in}
//! scaled by s (1/q inverted, 1 vanilla):
//!
//! ```text
//! yᵦ = (s·Mᵦ ⊙ W)·xᵦ + b
//! ∂L/∂xᵦ = (s·Mᵦ ⊙ W)ᵀ·gᵦ,   ∂L/∂W = Σᵦ s·Mᵦ ⊙ (gᵦ·xᵦᵀ),   ∂L/∂b = Σᵦ gᵦ
//! ```
//!
//! The masks are never stored: entry (β, o, i) is word `o·in + i` of ChaCha8 stream β of the
//! op's seed, compared with q·2³², so forward and backward regenerate exactly the same masks
//! (ChaCha is seekable), memory stays O(1) in the number of masks, and the result does not depend
//! on the number of threads (forward and ∂L/∂x are parallel over examples, ∂L/∂W over output rows
//! with examples summed in order).

use ndarray::{Array2, ArrayView1, ArrayView2, Axis, Ix1, Ix2, IxDyn};
use nn_core::{Array, Backward, BackwardCtx, Tensor};
use rand::RngCore;
use rayon::prelude::*;

/// The per-example masks of one forward pass, defined by a seed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerSampleMasks {
    /// Seed of the masks; example β uses ChaCha8 stream β.
    pub seed: u64,
    /// Keep probability q.
    pub keep: f32,
    /// Value of a kept entry (1/q for inverted DropConnect, 1 for vanilla).
    pub scale: f32,
}

impl PerSampleMasks {
    fn threshold(&self) -> u64 {
        (self.keep.clamp(0.0, 1.0) as f64 * 4_294_967_296.0).round() as u64
    }

    /// Fills `row` with the scaled mask entries (β, o, 0..in).
    fn fill_row(&self, example: usize, o: usize, row: &mut [f32]) {
        let mut rng = nn_core::rng::stream(self.seed, example as u64);
        rng.set_word_pos((o * row.len()) as u128);
        let t = self.threshold();
        for v in row.iter_mut() {
            *v = if (rng.next_u32() as u64) < t {
                self.scale
            } else {
                0.0
            };
        }
    }

    /// The scaled mask of example `example` for a weight of shape `[out, in]` (for inspection and
    /// tests; the op never materialises it).
    pub fn mask(&self, example: usize, out: usize, inp: usize) -> Array2<f32> {
        let mut m = Array2::zeros((out, inp));
        for (o, mut row) in m.axis_iter_mut(Axis(0)).enumerate() {
            self.fill_row(example, o, row.as_slice_mut().expect("contiguous row"));
        }
        m
    }
}

struct PerSampleBackward {
    masks: PerSampleMasks,
    has_bias: bool,
}

fn view2(t: &Tensor) -> ArrayView2<'_, f32> {
    t.data().view().into_dimensionality::<Ix2>().expect("2-d")
}

impl Backward for PerSampleBackward {
    fn name(&self) -> &'static str {
        "dropconnect_linear_per_sample"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let x = view2(&ctx.inputs[0]);
        let w = view2(&ctx.inputs[1]);
        let g = g.into_dimensionality::<Ix2>().expect("2-d gradient");
        let (out, inp) = w.dim();
        let m = self.masks;
        let gx = ctx.needs_grad(0).then(|| {
            let mut gx = Array2::<f32>::zeros(x.dim());
            gx.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each_init(
                    || vec![0.0f32; inp],
                    |row, (b, mut gxb)| {
                        for o in 0..out {
                            let go = g[[b, o]];
                            m.fill_row(b, o, row);
                            for ((gxi, &wi), &mi) in gxb.iter_mut().zip(w.row(o)).zip(row.iter()) {
                                *gxi += go * mi * wi;
                            }
                        }
                    },
                );
            gx.into_dyn()
        });
        let gw = ctx.needs_grad(1).then(|| {
            let mut gw = Array2::<f32>::zeros((out, inp));
            gw.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each_init(
                    || vec![0.0f32; inp],
                    |row, (o, mut gwo)| {
                        for b in 0..x.nrows() {
                            let go = g[[b, o]];
                            if go == 0.0 {
                                continue;
                            }
                            m.fill_row(b, o, row);
                            for ((gwi, &xi), &mi) in gwo.iter_mut().zip(x.row(b)).zip(row.iter()) {
                                *gwi += go * mi * xi;
                            }
                        }
                    },
                );
            gw.into_dyn()
        });
        let gb = (self.has_bias && ctx.needs_grad(2)).then(|| g.sum_axis(Axis(0)).into_dyn());
        let mut grads = vec![gx, gw];
        if self.has_bias {
            grads.push(gb);
        }
        grads
    }
}

/// y = (s·Mᵦ ⊙ W)·xᵦ + b for every example β with its own mask (see the module docs).
/// `x` is `[B, in]`, `w` `[out, in]`, `bias` `[out]`.
///
/// # Panics
/// If the shapes do not agree (the message names the op and the shapes).
pub fn dropconnect_linear_per_sample(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    masks: PerSampleMasks,
) -> Tensor {
    let ok = x.ndim() == 2
        && w.ndim() == 2
        && x.shape()[1] == w.shape()[1]
        && bias.is_none_or(|b| b.shape() == [w.shape()[0]]);
    assert!(
        ok,
        "dropconnect_linear_per_sample: input {:?}, weight {:?} and bias {:?} do not fit \
         ([B, in], [out, in], [out])",
        x.shape(),
        w.shape(),
        bias.map(Tensor::shape)
    );
    let xv = view2(x);
    let wv = view2(w);
    let (out, inp) = wv.dim();
    let bv: Option<ArrayView1<'_, f32>> =
        bias.map(|b| b.data().view().into_dimensionality::<Ix1>().expect("1-d"));
    let mut y = Array2::<f32>::zeros((xv.nrows(), out));
    y.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each_init(
            || vec![0.0f32; inp],
            |row, (b, mut yb)| {
                let xb = xv.row(b);
                for o in 0..out {
                    masks.fill_row(b, o, row);
                    let mut acc = 0.0f32;
                    for ((&wi, &mi), &xi) in wv.row(o).iter().zip(row.iter()).zip(xb) {
                        acc += wi * mi * xi;
                    }
                    yb[o] = acc + bv.map_or(0.0, |bv| bv[o]);
                }
            },
        );
    let mut inputs = vec![x.clone(), w.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    Tensor::from_op(
        y.into_shape_with_order(IxDyn(&[xv.nrows(), out]))
            .expect("same size"),
        inputs,
        PerSampleBackward {
            masks,
            has_bias: bias.is_some(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::assert_gradients;
    use nn_core::rng::seeded;

    const MASKS: PerSampleMasks = PerSampleMasks {
        seed: 42,
        keep: 0.6,
        scale: 1.0 / 0.6,
    };

    #[test]
    fn equals_a_naive_loop_over_examples() {
        let x = Tensor::randn(&[5, 7], 0.0, 1.0, &mut seeded(0));
        let w = Tensor::randn(&[3, 7], 0.0, 1.0, &mut seeded(1));
        let b = Tensor::randn(&[3], 0.0, 1.0, &mut seeded(2));
        let y = dropconnect_linear_per_sample(&x, &w, Some(&b), MASKS).to_array();
        for beta in 0..5 {
            let wm =
                &MASKS.mask(beta, 3, 7) * &w.data().view().into_dimensionality::<Ix2>().unwrap();
            let xb = x.data().slice(ndarray::s![beta, ..]).to_owned();
            let yb = wm.dot(&xb) + b.data().view().into_dimensionality::<Ix1>().unwrap();
            for o in 0..3 {
                assert!((y[[beta, o]] - yb[o]).abs() < 1e-5);
            }
        }
        // Different examples get different masks.
        assert_ne!(MASKS.mask(0, 3, 7), MASKS.mask(1, 3, 7));
    }

    #[test]
    fn seeking_matches_sequential_generation() {
        let m = MASKS.mask(2, 4, 9);
        let mut rng = nn_core::rng::stream(MASKS.seed, 2);
        let t = MASKS.threshold();
        for v in m.iter() {
            let keep = (rng.next_u32() as u64) < t;
            assert_eq!(*v, if keep { MASKS.scale } else { 0.0 });
        }
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |t| dropconnect_linear_per_sample(&t[0], &t[1], Some(&t[2]), MASKS),
            &[&[4, 5], &[3, 5], &[3]],
            3,
        );
        assert_gradients(
            |t| dropconnect_linear_per_sample(&t[0], &t[1], None, MASKS),
            &[&[2, 6], &[4, 6]],
            4,
        );
    }

    #[test]
    fn thread_count_does_not_change_results() {
        let x = Tensor::randn(&[9, 33], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
        let w = Tensor::randn(&[17, 33], 0.0, 1.0, &mut seeded(1)).with_requires_grad();
        let run = || {
            x.zero_grad();
            w.zero_grad();
            let y = dropconnect_linear_per_sample(&x, &w, None, MASKS);
            (&y * &y).sum_all().backward();
            (y.to_vec(), x.grad().unwrap(), w.grad().unwrap())
        };
        let a = run();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(run);
        assert_eq!(a, b);
    }

    #[test]
    #[should_panic(expected = "dropconnect_linear_per_sample: input [2, 3]")]
    fn shapes_are_checked() {
        let _ = dropconnect_linear_per_sample(
            &Tensor::zeros(&[2, 3]),
            &Tensor::zeros(&[4, 5]),
            None,
            MASKS,
        );
    }
}
