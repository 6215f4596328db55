//! Shape tracing for the [estimates](super::estimate): a [`Tracer`] walks the same layer
//! sequence as the model builders, in shapes only, accumulating parameters, buffers and
//! activation counts into a [`ModelEstimate`], and reports a [`ShapeError`] where a shape does
//! not fit.

use super::estimate::{LayerEstimate, ModelEstimate};
use crate::error::{Result, invalid};

/// A shape that does not work: what was expected, and the config field at fault if the layer
/// knows it (else the caller names one, [`ShapeError::at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError(pub String, pub Option<(&'static str, String)>);

impl ShapeError {
    /// An error whose field the caller decides.
    pub(crate) fn new(expected: impl Into<String>) -> ShapeError {
        ShapeError(expected.into(), None)
    }

    /// The error for its own field, or else for `field` (e.g. `model.channels`) with `value`.
    pub(crate) fn at(self, field: &str, value: impl std::fmt::Display) -> crate::TrainError {
        match self.1 {
            Some((own, v)) => invalid(own, v, &self.0),
            None => invalid(field, value, &self.0),
        }
    }
}

/// The output length of a window of `k` taps (dilation 1) with stride `s` and padding `p` over
/// `n` positions (PyTorch's formula, ceil mode optional), or `None` if no window fits.
pub(crate) fn window_out(n: usize, k: usize, s: usize, p: usize, ceil: bool) -> Option<usize> {
    let extra = if ceil { s - 1 } else { 0 };
    if n + 2 * p + extra < k {
        return None;
    }
    let mut out = (n + 2 * p + extra - k) / s + 1;
    if ceil && (out - 1) * s >= n + p {
        out -= 1;
    }
    Some(out)
}

/// The name of the next child of the innermost `Sequential` being traced (see
/// [`Tracer::begin_seq`]): `"0"`, `"1"`, … in order, as `Sequential::push` numbers them.
pub(crate) const POS: &str = "";

/// Walks a network in shapes only, accumulating an estimate (see the [module docs](self)).
/// Each method appends one layer — named as given, or by position ([`POS`]) inside the innermost
/// [`Tracer::begin_seq`] — and returns an error when the shape does not fit.
#[derive(Debug, Clone)]
pub(crate) struct Tracer {
    input: [usize; 3],
    shape: Vec<usize>,
    parameters: usize,
    buffers: usize,
    per_step: usize,
    layers: Vec<LayerEstimate>,
    peak_eval: usize,
    seqs: Vec<(String, usize)>,
}

impl Tracer {
    /// A tracer at the input of a network for CHW images of `input` shape.
    pub(crate) fn new(input: [usize; 3]) -> Tracer {
        Tracer {
            input,
            shape: input.to_vec(),
            parameters: 0,
            buffers: 0,
            per_step: 0,
            layers: Vec::new(),
            peak_eval: 0,
            seqs: Vec::new(),
        }
    }

    /// Records `values` held once per training step (a DropConnect layer's masked weight).
    pub(crate) fn per_step(&mut self, values: usize) {
        self.per_step += values;
    }

    /// Starts a `Sequential` named `prefix`: layers named [`POS`] are numbered within it.
    pub(crate) fn begin_seq(&mut self, prefix: &str) {
        self.seqs.push((prefix.to_string(), 0));
    }

    /// Ends the innermost `Sequential`.
    pub(crate) fn end_seq(&mut self) {
        self.seqs.pop();
    }

    /// The name [`Tracer::resolve`] would give, without taking a position.
    fn peek(&self, name: &str) -> String {
        match self.seqs.last() {
            Some((prefix, next)) if name.is_empty() => self::name(prefix, &next.to_string()),
            _ => name.to_string(),
        }
    }

    /// The full name of a layer: `name`, or the next position for [`POS`].
    fn resolve(&mut self, name: &str) -> String {
        if !name.is_empty() {
            return name.to_string();
        }
        match self.seqs.last_mut() {
            Some((prefix, next)) => {
                *next += 1;
                self::name(prefix, &(*next - 1).to_string())
            }
            None => String::new(),
        }
    }

    /// The input shape.
    pub(crate) fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Channels (first axis) of the current shape.
    pub(crate) fn channels(&self) -> usize {
        self.shape[0]
    }

    /// Values per sample of the current shape (the features of a flat input).
    pub(crate) fn features(&self) -> usize {
        self.shape.iter().product()
    }

    /// Spatial size (H, W) of the current CHW shape.
    pub(crate) fn spatial(&self) -> (usize, usize) {
        (self.shape[1], self.shape[2])
    }

    /// Records a layer producing `output` with `params` parameter scalars and `buffers` buffer
    /// scalars; `holds` says whether its output is a new buffer in the graph (false for views).
    pub(crate) fn push(
        &mut self,
        name: &str,
        layer: String,
        output: Vec<usize>,
        params: usize,
        buffers: usize,
        holds: bool,
    ) {
        let name = self.resolve(name);
        let n_in: usize = self.shape.iter().product();
        let n_out: usize = output.iter().product();
        if holds {
            self.peak_eval = self.peak_eval.max(n_in + n_out);
        }
        self.parameters += params;
        self.buffers += buffers;
        self.layers.push(LayerEstimate {
            name,
            layer,
            output: output.clone(),
            parameters: params,
            activations: if holds { n_out } else { 0 },
        });
        self.shape = output;
    }

    /// The output size of a k×k window (convolution or pooling) over the current map, or the
    /// error naming `what` and the map it receives.
    fn window(
        &self,
        what: &str,
        k: usize,
        stride: usize,
        pad: usize,
        ceil: bool,
    ) -> Result<(usize, usize), ShapeError> {
        let (h, w) = self.spatial();
        match (
            window_out(h, k, stride, pad, ceil),
            window_out(w, k, stride, pad, ceil),
        ) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => Err(ShapeError::new(format!(
                "a shape where the {what} fits; it receives a {h}×{w} map"
            ))),
        }
    }

    /// A k×k convolution to `c_out` channels (`[C, H, W]` input).
    pub(crate) fn conv(
        &mut self,
        name: &str,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> Result<(), ShapeError> {
        let c = self.channels();
        let what = format!("{k}×{k} convolution `{}` (padding {pad})", self.peek(name));
        let (oh, ow) = self.window(&what, k, stride, pad, false)?;
        let params = c_out * c * k * k + if bias { c_out } else { 0 };
        self.push(
            name,
            format!("Conv2d({c}, {c_out}, k={k}, s={stride}, p={pad}, bias={bias})"),
            vec![c_out, oh, ow],
            params,
            0,
            true,
        );
        Ok(())
    }

    /// A fully connected layer to `out` features (the input is already flat).
    pub(crate) fn linear(&mut self, name: &str, out: usize, bias: bool) {
        let inp: usize = self.shape.iter().product();
        let params = out * inp + if bias { out } else { 0 };
        self.push(
            name,
            format!("Linear({inp}, {out}, bias={bias})"),
            vec![out],
            params,
            0,
            true,
        );
    }

    /// BatchNorm over the channels (first axis): γ, β and running mean/var + counter.
    pub(crate) fn batch_norm(&mut self, name: &str) {
        let c = self.channels();
        let out = self.shape.clone();
        self.push(name, format!("BatchNorm({c})"), out, 2 * c, 2 * c + 1, true);
    }

    /// A per-sample normalisation with `params` affine scalars (layer / group / instance).
    pub(crate) fn per_sample_norm(&mut self, name: &str, what: String, params: usize) {
        let out = self.shape.clone();
        self.push(name, what, out, params, 0, true);
    }

    /// Maxout over k channels: C·k → C.
    pub(crate) fn channel_maxout(&mut self, name: &str, k: usize) {
        let mut out = self.shape.clone();
        out[0] /= k;
        self.push(name, format!("ChannelMaxout({k})"), out, 0, 0, true);
    }

    /// Fractional max pooling to ⌊H·r⌋ × ⌊W·r⌋.
    pub(crate) fn fractional_pool(&mut self, name: &str, ratio: f32) -> Result<(), ShapeError> {
        let (c, (h, w)) = (self.channels(), self.spatial());
        let (oh, ow) = ((h as f32 * ratio) as usize, (w as f32 * ratio) as usize);
        if oh == 0 || ow == 0 {
            return Err(ShapeError::new(format!(
                "a shape where the fractional max pooling `{}` (ratio {ratio}) has an output; \
                 it receives a {h}×{w} map",
                self.peek(name)
            )));
        }
        self.push(
            name,
            format!("FractionalMaxPool2d(ratio={ratio})"),
            vec![c, oh, ow],
            0,
            0,
            true,
        );
        Ok(())
    }

    /// A shape-preserving op that holds its output (activation, dropout, residual addition).
    pub(crate) fn elementwise(&mut self, name: &str, what: &str) {
        let out = self.shape.clone();
        self.push(name, what.to_string(), out, 0, 0, true);
    }

    /// Max pooling with a k×k window.
    pub(crate) fn max_pool(
        &mut self,
        name: &str,
        k: usize,
        stride: usize,
        pad: usize,
        ceil: bool,
    ) -> Result<(), ShapeError> {
        let c = self.channels();
        let what = format!("{k}×{k} max pooling `{}`", self.peek(name));
        let (oh, ow) = self.window(&what, k, stride, pad, ceil)?;
        self.push(
            name,
            format!("MaxPool2d(k={k}, s={stride}, p={pad}, ceil={ceil})"),
            vec![c, oh, ow],
            0,
            0,
            true,
        );
        Ok(())
    }

    /// Adaptive average pooling to `(oh, ow)`.
    pub(crate) fn adaptive_avg_pool(&mut self, name: &str, (oh, ow): (usize, usize)) {
        let c = self.channels();
        self.push(
            name,
            format!("AdaptiveAvgPool2d(({oh}, {ow}))"),
            vec![c, oh, ow],
            0,
            0,
            true,
        );
    }

    /// A layer that passes its input through (holds nothing), e.g. dropout with p = 0.
    pub(crate) fn identity(&mut self, name: &str, what: &str) {
        let out = self.shape.clone();
        self.push(name, what.to_string(), out, 0, 0, false);
    }

    /// Flatten to one axis (a view: holds nothing).
    pub(crate) fn flatten(&mut self, name: &str) {
        let n = self.shape.iter().product();
        self.push(name, "Flatten".into(), vec![n], 0, 0, false);
    }

    /// The finished estimate.
    pub(crate) fn finish(self) -> ModelEstimate {
        let activations = self.layers.iter().map(|l| l.activations).sum();
        let largest = self.layers.iter().map(|l| l.activations).max().unwrap_or(0);
        ModelEstimate {
            input: self.input,
            output: self.shape,
            parameters: self.parameters,
            buffers: self.buffers,
            per_step_values: self.per_step,
            activations_per_sample: activations,
            largest_layer_per_sample: largest,
            peak_eval_per_sample: self.peak_eval,
            layers: self.layers,
        }
    }

    /// Traces a branch `f` starting from the current shape (e.g. the residual branch of a block):
    /// its layers, parameters and buffers are appended; the current shape stays where it was
    /// (for the other branch). Returns the branch's output shape.
    pub(crate) fn branch(
        &mut self,
        f: impl FnOnce(&mut Tracer) -> Result<(), ShapeError>,
    ) -> Result<Vec<usize>, ShapeError> {
        let start = self.shape.clone();
        let mut sub = Tracer {
            input: self.input,
            shape: start,
            parameters: 0,
            buffers: 0,
            per_step: 0,
            layers: Vec::new(),
            peak_eval: 0,
            seqs: Vec::new(),
        };
        f(&mut sub)?;
        self.parameters += sub.parameters;
        self.buffers += sub.buffers;
        self.per_step += sub.per_step;
        self.peak_eval = self.peak_eval.max(sub.peak_eval);
        self.layers.extend(sub.layers);
        Ok(sub.shape)
    }

    /// Sets the current shape (after a branch that does not end where the main path does).
    pub(crate) fn set_shape(&mut self, shape: Vec<usize>) {
        self.shape = shape;
    }
}

/// Joins a name prefix and a child name with a dot.
pub(crate) fn name(prefix: &str, child: &str) -> String {
    if prefix.is_empty() {
        child.to_string()
    } else {
        format!("{prefix}.{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_pytorch() {
        assert_eq!(window_out(32, 3, 1, 1, false), Some(32));
        assert_eq!(window_out(32, 3, 2, 1, false), Some(16));
        assert_eq!(window_out(224, 7, 2, 3, false), Some(112));
        assert_eq!(window_out(112, 3, 2, 1, false), Some(56));
        assert_eq!(window_out(5, 2, 2, 0, true), Some(3));
        assert_eq!(window_out(1, 2, 2, 0, true), Some(1));
        assert_eq!(window_out(1, 2, 2, 0, false), None);
        assert_eq!(window_out(1, 3, 2, 1, false), Some(1));
    }
}
