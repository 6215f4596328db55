//! Property test of channels-last max pooling: on random shapes and options (kernel, stride,
//! padding, dilation, ceil mode) and values full of ties, NaNs and infinities, the channels-last
//! kernel gives exactly the row-major kernel's output, indices and input gradient, and keeps its
//! output channels-last.

use nn_core::Tensor;
use nn_core::ops::MaxPool2dOptions;
use nn_core::rng::seeded;
use proptest::prelude::*;

/// (input shape, options, seed) with a valid output.
fn problem() -> impl Strategy<Value = ([usize; 4], MaxPool2dOptions, u64)> {
    (
        1usize..3,
        // Up to 39 channels: whole vectors of the dispatched kernel and a remainder.
        2usize..40,
        (1usize..8, 1usize..8),
        (1usize..4, 1usize..4),
        (1usize..4, 1usize..4),
        (0usize..3, 0usize..3),
        (1usize..3, 1usize..3),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter_map(
            "options must fit the input",
            |(n, c, (h, w), kernel, stride, padding, dilation, ceil_mode, seed)| {
                let o = MaxPool2dOptions {
                    kernel,
                    stride,
                    padding,
                    dilation,
                    ceil_mode,
                };
                o.output_size(h, w).ok().map(|_| ([n, c, h, w], o, seed))
            },
        )
}

/// Small integers (many ties), with a few NaNs and infinities.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = seeded(seed);
    (0..len)
        .map(|_| match rng.random_range(0..40) {
            0 => f32::NAN,
            1 => f32::NEG_INFINITY,
            2 => f32::INFINITY,
            _ => rng.random_range(-3i32..4) as f32,
        })
        .collect()
}

/// Bitwise equality (NaN equal to NaN).
fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Windows that tile the input exactly (stride = kernel, no padding or dilation): the backward
/// pass writes each window's gradient instead of adding it into a zeroed buffer.
fn tiled_problem() -> impl Strategy<Value = ([usize; 4], MaxPool2dOptions, u64)> {
    (
        1usize..3,
        2usize..40,
        (1usize..4, 1usize..4),
        (1usize..4, 1usize..4),
        any::<u64>(),
    )
        .prop_map(|(n, c, (kh, kw), (th, tw), seed)| {
            let o = MaxPool2dOptions {
                kernel: (kh, kw),
                stride: (kh, kw),
                padding: (0, 0),
                dilation: (1, 1),
                ceil_mode: false,
            };
            ([n, c, kh * th, kw * tw], o, seed)
        })
}

/// The channels-last pool against the row-major one: output, indices and input gradient, bit
/// for bit.
fn check(shape: [usize; 4], o: MaxPool2dOptions, seed: u64) -> Result<(), TestCaseError> {
    let len: usize = shape.iter().product();
    let v = values(len, seed);
    let row = Tensor::from_vec(v.clone(), &shape).with_requires_grad();
    let leaf = Tensor::from_vec(v, &shape).with_requires_grad();
    let cl = leaf.to_channels_last();
    prop_assert!(cl.is_channels_last() || shape[2] * shape[3] == 1);

    let (y_row, i_row) = row.max_pool2d_with_indices(o);
    let (y_cl, i_cl) = cl.max_pool2d_with_indices(o);
    // A one-pixel image's channels-last copy is also row-major (its strides fit both), and
    // nn reads it as row-major: the pool's output is then row-major too.
    let ys = y_cl.shape().to_vec();
    prop_assert!(y_cl.is_channels_last() || ys[2] * ys[3] == 1 || shape[2] * shape[3] == 1);
    prop_assert!(same(&y_row.to_vec(), &y_cl.to_vec()), "outputs differ");
    prop_assert_eq!(i_row, i_cl);

    // Gradients: the same upstream gradient (row-major for one, channels-last for the other
    // through the graph; some of it −0.0), bit-identical input gradients.
    let g: Vec<f32> = values(y_row.to_vec().len(), seed ^ 1)
        .into_iter()
        .map(|x| match x {
            x if !x.is_finite() => 0.5,
            1.0 => -0.0,
            x => x,
        })
        .collect();
    let gt = Tensor::from_vec(g, y_row.shape());
    (&y_row * &gt).sum_all().backward();
    (&y_cl * &gt).sum_all().backward();
    let (d_row, d_cl) = (row.grad().unwrap(), leaf.grad().unwrap());
    let d_row: Vec<f32> = d_row.iter().copied().collect();
    let d_cl: Vec<f32> = d_cl.iter().copied().collect();
    prop_assert!(same(&d_row, &d_cl), "gradients differ");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn channels_last_equals_row_major((shape, o, seed) in problem()) {
        check(shape, o, seed)?;
    }

    #[test]
    fn tiling_windows_equal_row_major((shape, o, seed) in tiled_problem()) {
        check(shape, o, seed)?;
    }
}

#[test]
fn channels_last_output_feeds_the_next_pool() {
    // Two pools in a row stay channels-last and agree with row-major.
    let x = Tensor::randn(&[2, 5, 9, 7], 0.0, 1.0, &mut seeded(3));
    let o = MaxPool2dOptions::new(2).with_ceil_mode(true);
    let a = x.max_pool2d(o).max_pool2d(o);
    let b = x.to_channels_last().max_pool2d(o).max_pool2d(o);
    assert!(b.is_channels_last());
    assert_eq!(a.to_vec(), b.to_vec());
}

#[test]
fn a_one_pixel_image_pools_like_row_major() {
    // The case proptest once found: a 1×1 image padded to a 2×1 output. Its channels-last copy
    // is read as row-major (the strides fit both), so the output is row-major, with the same
    // values as the row-major pool.
    let o = MaxPool2dOptions {
        kernel: (2, 1),
        stride: (1, 1),
        padding: (1, 0),
        dilation: (1, 1),
        ceil_mode: false,
    };
    let x = Tensor::from_vec(vec![1.0, -2.0], &[1, 2, 1, 1]);
    let (y_row, i_row) = x.max_pool2d_with_indices(o);
    let (y_cl, i_cl) = x.to_channels_last().max_pool2d_with_indices(o);
    assert_eq!(y_cl.shape(), &[1, 2, 2, 1]);
    assert!(!y_cl.is_channels_last());
    assert_eq!(y_row.to_vec(), vec![1.0, 1.0, -2.0, -2.0]);
    assert_eq!(y_row.to_vec(), y_cl.to_vec());
    assert_eq!(i_row, i_cl);
}
