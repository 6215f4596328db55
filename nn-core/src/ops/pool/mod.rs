//! 2-d pooling on NCHW tensors: max pooling (optionally with the indices of the maxima), max
//! unpooling, average pooling, adaptive and global average pooling. Every (sample, channel)
//! plane is pooled independently and in parallel.

mod adaptive_avg;
mod avg;
mod max;
mod max_nhwc;
mod unpool;

pub use avg::AvgPool2dOptions;
pub use max::MaxPool2dOptions;
pub use unpool::MaxUnpool2dOptions;

/// The pooled length along one axis, as PyTorch's `pooling_output_shape`:
///
/// ```text
/// out = ⌊(in + 2·pad − dil·(k − 1) − 1 + (ceil_mode ? stride − 1 : 0)) / stride⌋ + 1
/// ```
///
/// and, in ceil mode, one less if the last window would start in the right padding
/// (`(out − 1)·stride ≥ in + pad`). `None` if the numerator is negative (no window fits; in ceil
/// mode a window may reach past the input, e.g. a 2×2 pool of a 1×1 map gives 1×1, as in
/// PyTorch).
pub(crate) fn pool_out_len(
    input: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let span = dil * (k - 1) + 1;
    let extra = if ceil_mode { stride - 1 } else { 0 };
    if input + 2 * pad + extra < span {
        return None;
    }
    let mut out = (input + 2 * pad + extra - span) / stride + 1;
    if ceil_mode && (out - 1) * stride >= input + pad {
        out -= 1;
    }
    Some(out)
}

/// Splits a 4-d shape into (planes N·C, H, W), panicking with the op's name otherwise.
pub(crate) fn planes(op: &str, shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() == 4,
        "{op}: expected a 4-d input [N, C, H, W], got shape {shape:?}"
    );
    assert!(
        shape[2] > 0 && shape[3] > 0,
        "{op}: the image of input shape {shape:?} is empty"
    );
    (shape[0] * shape[1], shape[2], shape[3])
}

/// The panic of a pooling op whose options do not fit its input: names the op, the input shape
/// and the problem (`output_size`'s message).
pub(crate) fn options_panic(op: &str, shape: &[usize], problem: &str) -> ! {
    panic!("{op}: input shape {shape:?}: {problem}")
}

#[cfg(test)]
mod tests {
    use super::pool_out_len;

    #[test]
    fn output_lengths_follow_pytorch() {
        assert_eq!(pool_out_len(32, 2, 2, 0, 1, false), Some(16));
        assert_eq!(pool_out_len(5, 2, 2, 0, 1, false), Some(2));
        assert_eq!(pool_out_len(5, 2, 2, 0, 1, true), Some(3));
        assert_eq!(pool_out_len(6, 3, 2, 1, 1, true), Some(4));
        // ceil mode never starts a window in the right padding: 3, k2, s2, p1 → 2, not 3.
        assert_eq!(pool_out_len(3, 2, 2, 1, 1, true), Some(2));
        assert_eq!(pool_out_len(4, 3, 2, 0, 1, true), Some(2));
        assert_eq!(pool_out_len(1, 2, 2, 0, 1, false), None);
        // Ceil mode lets the one window reach past a small input (torch: 1×1 → 1×1, 2×2 with
        // k3 s3 → 1×1), but not when even the rounding cannot reach it.
        assert_eq!(pool_out_len(1, 2, 2, 0, 1, true), Some(1));
        assert_eq!(pool_out_len(2, 3, 3, 0, 1, true), Some(1));
        assert_eq!(pool_out_len(1, 3, 1, 0, 1, true), None);
    }
}
