//! Multiplying by a fixed mask (the differentiable core of dropout, DropConnect and stochastic
//! depth), and sampling Bernoulli masks reproducibly and in parallel.
//!
//! y = x ⊙ m, with m a constant that broadcasts to x's shape (m is not differentiated);
//! ∂L/∂x = ∂L/∂y ⊙ m.
//!
//! A mask's entries already carry the layer's scale (`1/keep` for inverted dropout), so one op
//! serves every variant.
//!
//! Element-wise training masks (dropout, DropConnect) use a bit-packed form instead
//! ([`BitMask`], [`bit_mask_mul`]): one bit per element instead of an `f32` array, fused into the
//! multiply, with the same random draws as [`bernoulli_mask`] (so the two agree entry for entry).

use ndarray::IxDyn;
use nn_core::{Array, Backward, BackwardCtx, Tensor};
use rand::{Rng, RngCore};
use rayon::prelude::*;

/// Elements per independently seeded chunk of a Bernoulli mask (fixed, so the mask does not
/// depend on the number of threads).
const CHUNK: usize = 1 << 14;

struct MaskMulBackward {
    mask: Array,
}

impl Backward for MaskMulBackward {
    fn name(&self) -> &'static str {
        "mask_mul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        if g.shape() == self.mask.shape() {
            ndarray::Zip::from(&mut g)
                .and(&self.mask)
                .par_for_each(|g, &m| *g *= m);
        } else {
            g *= &self.mask;
        }
        vec![Some(g)]
    }
}

/// `x ⊙ mask` for a constant `mask` that broadcasts to `x`'s shape (e.g. a `[N, C, 1, 1]`
/// channel mask for a `[N, C, H, W]` input); differentiable with respect to `x`, with
/// ∂L/∂x = ∂L/∂y ⊙ mask.
///
/// This is dropout "with a fixed mask": [`crate::Dropout`] and friends sample the mask and call
/// this op, and tests can call it with a known mask.
///
/// # Panics
/// If `mask` does not broadcast to `x`'s shape (the output must keep `x`'s shape).
pub fn mask_mul(x: &Tensor, mask: Array) -> Tensor {
    let xs = x.shape();
    let ms = mask.shape();
    let fits = ms.len() <= xs.len()
        && ms
            .iter()
            .rev()
            .zip(xs.iter().rev())
            .all(|(&m, &d)| m == d || m == 1);
    assert!(
        fits,
        "mask_mul: mask of shape {ms:?} does not broadcast to the input's shape {xs:?}"
    );
    let value = if ms == xs {
        let mut out = Array::zeros(IxDyn(xs));
        ndarray::Zip::from(&mut out)
            .and(x.data())
            .and(&mask)
            .par_for_each(|o, &x, &m| *o = x * m);
        out
    } else {
        x.data() * &mask
    };
    Tensor::from_op(value, vec![x.clone()], MaskMulBackward { mask })
}

/// A mask of `shape` whose entries are `scale` with probability `keep` and 0 otherwise.
///
/// Draws one `u64` seed from `rng`, then fills chunks of 2¹⁴ elements in parallel, chunk `k`
/// from ChaCha8 stream `k` of that seed: the same `rng` state gives the same mask for any number
/// of threads. Each element compares a uniform 32-bit draw with `keep · 2³²`, so `keep = 1` keeps
/// everything and `keep = 0` nothing.
pub fn bernoulli_mask<R: Rng + ?Sized>(
    shape: &[usize],
    keep: f32,
    scale: f32,
    rng: &mut R,
) -> Array {
    let seed = rng.next_u64();
    let threshold = (keep.clamp(0.0, 1.0) as f64 * 4_294_967_296.0).round() as u64;
    let mut out = Array::zeros(IxDyn(shape));
    let slice = out.as_slice_mut().expect("fresh arrays are contiguous");
    slice
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let mut r = nn_core::rng::stream(seed, k as u64);
            for v in chunk {
                *v = if (r.next_u32() as u64) < threshold {
                    scale
                } else {
                    0.0
                };
            }
        });
    out
}

/// A Bernoulli mask packed one bit per element (bit `i % 64` of word `i / 64`; 1 = kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitMask {
    words: Vec<u64>,
    len: usize,
}

impl BitMask {
    /// Draws a mask of `len` elements, each kept with probability `keep`, with exactly the draws
    /// of [`bernoulli_mask`] (one `u64` seed from `rng`, chunk `k` of 2¹⁴ elements from ChaCha8
    /// stream `k`), in parallel and independent of the number of threads.
    pub fn sample<R: Rng + ?Sized>(len: usize, keep: f32, rng: &mut R) -> BitMask {
        let seed = rng.next_u64();
        let threshold = (keep.clamp(0.0, 1.0) as f64 * 4_294_967_296.0).round() as u64;
        let mut words = vec![0u64; len.div_ceil(64)];
        words
            .par_chunks_mut(CHUNK / 64)
            .enumerate()
            .for_each(|(k, chunk)| {
                let mut r = nn_core::rng::stream(seed, k as u64);
                let first = k * CHUNK;
                let n = CHUNK.min(len - first);
                for (w, word) in chunk.iter_mut().enumerate() {
                    let bits = (n - (w * 64).min(n)).min(64);
                    let mut v = 0u64;
                    for b in 0..bits {
                        v |= u64::from((r.next_u32() as u64) < threshold) << b;
                    }
                    *word = v;
                }
            });
        BitMask { words, len }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mask has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether element `i` is kept.
    pub fn get(&self, i: usize) -> bool {
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Number of kept elements.
    pub fn count_kept(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// out[i] = src[i]·scale where kept, 0 elsewhere (`out` and `src` of the mask's length).
    fn apply(&self, src: &[f32], out: &mut [f32], scale: f32) {
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(k, (o, s))| {
                let words = &self.words[k * CHUNK / 64..];
                // Branch-free (a random mask defeats the branch predictor): x·(bit·scale).
                for ((o, s), &w) in o.chunks_mut(64).zip(s.chunks(64)).zip(words) {
                    for (b, (o, &s)) in o.iter_mut().zip(s).enumerate() {
                        *o = s * (((w >> b) & 1) as f32 * scale);
                    }
                }
            });
    }
}

struct BitMaskBackward {
    mask: BitMask,
    scale: f32,
}

impl Backward for BitMaskBackward {
    fn name(&self) -> &'static str {
        "bit_mask_mul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let mut g = if g.is_standard_layout() {
            g
        } else {
            g.as_standard_layout().into_owned()
        };
        self.mask
            .apply_in_place(g.as_slice_mut().expect("standard layout"), self.scale);
        vec![Some(g)]
    }
}

impl BitMask {
    /// v[i] ← v[i]·scale where kept, 0 elsewhere, in place.
    fn apply_in_place(&self, v: &mut [f32], scale: f32) {
        v.par_chunks_mut(CHUNK).enumerate().for_each(|(k, c)| {
            let words = &self.words[k * CHUNK / 64..];
            for (c, &w) in c.chunks_mut(64).zip(words) {
                for (b, x) in c.iter_mut().enumerate() {
                    *x *= ((w >> b) & 1) as f32 * scale;
                }
            }
        });
    }
}

/// y = x ⊙ m·`scale` for a bit-packed mask m of x's length (row-major order); differentiable with
/// respect to `x`, ∂L/∂x = ∂L/∂y ⊙ m·scale. Equal to [`mask_mul`] with the expanded mask, at
/// 1/32 of the mask memory and without the extra pass.
///
/// # Panics
/// If the mask's length differs from x's number of elements.
pub fn bit_mask_mul(x: &Tensor, mask: BitMask, scale: f32) -> Tensor {
    assert_eq!(
        mask.len(),
        x.len(),
        "bit_mask_mul: mask of {} elements for an input of shape {:?}",
        mask.len(),
        x.shape()
    );
    let xd = x.data().as_standard_layout();
    // Every element is written: a pooled buffer (fresh pages fault on first touch).
    let mut out = nn_core::buffer_pool::array_for_overwrite(x.shape());
    mask.apply(
        xd.as_slice().expect("standard layout"),
        out.as_slice_mut().expect("fresh arrays are contiguous"),
        scale,
    );
    Tensor::from_op(out, vec![x.clone()], BitMaskBackward { mask, scale })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::assert_gradients;
    use nn_core::rng::seeded;

    #[test]
    fn forward_and_broadcast() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let m = Array::from_shape_vec(IxDyn(&[2, 1]), vec![0.0, 2.0]).unwrap();
        assert_eq!(mask_mul(&x, m).to_vec(), vec![0.0, 0.0, 6.0, 8.0]);
    }

    #[test]
    #[should_panic(expected = "mask_mul: mask of shape [3] does not broadcast")]
    fn mask_must_broadcast() {
        let x = Tensor::zeros(&[2, 2]);
        let _ = mask_mul(&x, Array::zeros(IxDyn(&[3])));
    }

    #[test]
    #[should_panic(expected = "does not broadcast")]
    fn mask_may_not_grow_the_input() {
        let x = Tensor::zeros(&[2]);
        let _ = mask_mul(&x, Array::zeros(IxDyn(&[3, 2])));
    }

    #[test]
    fn gradient_with_a_fixed_mask() {
        let full = bernoulli_mask(&[4, 5], 0.6, 1.0 / 0.6, &mut seeded(3));
        assert_gradients(move |x| mask_mul(&x[0], full.clone()), &[&[4, 5]], 1);
        let chan = bernoulli_mask(&[2, 3, 1, 1], 0.5, 2.0, &mut seeded(4));
        assert_gradients(move |x| mask_mul(&x[0], chan.clone()), &[&[2, 3, 2, 2]], 2);
    }

    #[test]
    fn bit_mask_equals_the_float_mask_and_its_op() {
        for len in [1, 63, 64, 65, CHUNK - 3, 2 * CHUNK + 100] {
            let bits = BitMask::sample(len, 0.3, &mut seeded(len as u64));
            let full = bernoulli_mask(&[len], 0.3, 1.0, &mut seeded(len as u64));
            for i in 0..len {
                assert_eq!(bits.get(i), full[[i]] == 1.0, "len {len}, element {i}");
            }
            assert_eq!(bits.count_kept(), full.sum() as usize);
        }
        let x = Tensor::randn(&[3, 50], 0.0, 1.0, &mut seeded(1));
        let bits = BitMask::sample(150, 0.5, &mut seeded(2));
        let full = bernoulli_mask(&[3, 50], 0.5, 2.0, &mut seeded(2));
        assert_eq!(
            bit_mask_mul(&x, bits.clone(), 2.0).to_vec(),
            mask_mul(&x, full).to_vec()
        );
        assert_gradients(
            move |t| bit_mask_mul(&t[0], bits.clone(), 2.0),
            &[&[3, 50]],
            3,
        );
    }

    #[test]
    fn bernoulli_extremes_and_values() {
        let all = bernoulli_mask(&[1000], 1.0, 1.0, &mut seeded(0));
        assert!(all.iter().all(|&v| v == 1.0));
        let none = bernoulli_mask(&[1000], 0.0, 1.0, &mut seeded(0));
        assert!(none.iter().all(|&v| v == 0.0));
        let m = bernoulli_mask(&[1000], 0.5, 2.0, &mut seeded(0));
        assert!(m.iter().all(|&v| v == 0.0 || v == 2.0));
    }

    #[test]
    fn bernoulli_is_reproducible_and_thread_count_independent() {
        let shape = [3, CHUNK + 17];
        let a = bernoulli_mask(&shape, 0.3, 1.0, &mut seeded(9));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| bernoulli_mask(&shape, 0.3, 1.0, &mut seeded(9)));
        assert_eq!(a, b);
        let c = bernoulli_mask(&shape, 0.3, 1.0, &mut seeded(10));
        assert_ne!(a, c);
    }
}
