//! [`ChannelMaxout`]: maxout as an activation (Goodfellow et al., "Maxout Networks", ICML 2013):
//! the maximum over groups of k consecutive channels (features),
//!
//! ```text
//! y[n, j, …] = max_{p < k} x[n, j·k + p, …]        (C·k channels in, C out)
//! ∂L/∂x[n, j·k + p, …] = ∂L/∂y[n, j, …] · 𝟙[p = argmax]   (the first maximum on ties)
//! ```
//!
//! Put after a layer with k times the channels (`Linear` to `out·k` features, `Conv2d` to `C·k`
//! channels): `Linear(in, out·k)` followed by `ChannelMaxout(k)` is exactly [`super::Maxout`]
//! (same pieces, row `j·k + p` is piece p of unit j); after a convolution it is Goodfellow et
//! al.'s convolutional maxout (the max across k feature maps at each position). PyTorch twin:
//! `x.unflatten(1, (C, k)).amax(2)`.

use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::module::{Ctx, Entry, Module};
use crate::tensor::Tensor;

/// Maxout over groups of `pieces` consecutive channels (see the module docs). No
/// parameters; train and eval mode agree.
///
/// ```
/// use nn_core::layers::ChannelMaxout;
/// use nn_core::{Ctx, Module, Tensor};
/// let m = ChannelMaxout::new(2).unwrap();
/// let x = Tensor::from_vec(vec![1., 5., -2., -3., 4., 0., 7., 1.], &[2, 4]);
/// assert_eq!(m.forward(&x, &mut Ctx::eval()).to_vec(), vec![5., -2., 4., 7.]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMaxout {
    pieces: usize,
}

impl ChannelMaxout {
    /// Maxout over `pieces` channels per output channel.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] if `pieces` is 0.
    pub fn new(pieces: usize) -> Result<ChannelMaxout, LayerError> {
        if pieces == 0 {
            return Err(LayerError::invalid(
                "ChannelMaxout",
                "pieces",
                0,
                "at least 1",
            ));
        }
        Ok(ChannelMaxout { pieces })
    }

    /// The number of pieces k.
    pub fn pieces(&self) -> usize {
        self.pieces
    }
}

impl Module for ChannelMaxout {
    /// `[N, C·k, …] → [N, C, …]`: a view as `[N, C, k, …]` (no copy), then the max over axis 2.
    ///
    /// # Panics
    /// If the input has fewer than 2 axes or its channels are not a multiple of k.
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let s = x.shape();
        let k = self.pieces;
        assert!(
            s.len() >= 2 && s[1].is_multiple_of(k),
            "ChannelMaxout({k}): input shape {s:?} must be [N, C·{k}, …]"
        );
        if k == 1 {
            return x.clone();
        }
        let mut view = Vec::with_capacity(s.len() + 1);
        view.extend([s[0], s[1] / k, k]);
        view.extend_from_slice(&s[2..]);
        x.reshape(&view).max(&[2], false)
    }

    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}

    fn describe(&self) -> String {
        format!("ChannelMaxout(pieces={})", self.pieces)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{LinearConfig, Maxout};
    use crate::rng::seeded;

    #[test]
    fn after_linear_it_is_the_maxout_layer() {
        let lin = LinearConfig::new(5, 3 * 4).init(&mut seeded(0)).unwrap();
        let m = Maxout::from_arrays(
            lin.weight().value().to_owned(),
            Some(lin.bias().unwrap().value().to_owned()),
            4,
        );
        let x = Tensor::randn(&[6, 5], 0.0, 1.0, &mut seeded(1));
        let act = ChannelMaxout::new(4).unwrap();
        let a = act.forward(&lin.forward(&x, &mut Ctx::eval()), &mut Ctx::eval());
        assert_eq!(a.to_vec(), m.forward(&x, &mut Ctx::eval()).to_vec());
    }

    #[test]
    fn convolutional_maxout_takes_the_max_across_maps() {
        let x = Tensor::randn(&[2, 6, 3, 4], 0.0, 1.0, &mut seeded(2));
        let y = ChannelMaxout::new(3).unwrap().forward(&x, &mut Ctx::eval());
        assert_eq!(y.shape(), &[2, 2, 3, 4]);
        let (xv, yv) = (x.to_array(), y.to_array());
        for n in 0..2 {
            for j in 0..2 {
                for h in 0..3 {
                    for w in 0..4 {
                        let m = (0..3)
                            .map(|p| xv[[n, j * 3 + p, h, w]])
                            .fold(f32::NEG_INFINITY, f32::max);
                        assert_eq!(yv[[n, j, h, w]], m);
                    }
                }
            }
        }
        assert!(ChannelMaxout::new(0).is_err());
        assert_eq!(
            ChannelMaxout::new(1)
                .unwrap()
                .forward(&x, &mut Ctx::eval())
                .to_vec(),
            x.to_vec()
        );
    }

    #[test]
    fn gradients() {
        let m = ChannelMaxout::new(2).unwrap();
        let w = Tensor::randn(&[2, 3, 2, 2], 0.0, 1.0, &mut seeded(3));
        crate::gradcheck::assert_gradients(
            |xs| (&m.forward(&xs[0], &mut Ctx::eval()) * &w).sum_all(),
            &[&[2, 6, 2, 2]],
            5,
        );
    }

    #[test]
    #[should_panic(expected = "must be [N, C·4")]
    fn channels_must_be_a_multiple_of_the_pieces() {
        let _ = ChannelMaxout::new(4)
            .unwrap()
            .forward(&Tensor::ones(&[1, 6]), &mut Ctx::eval());
    }
}
