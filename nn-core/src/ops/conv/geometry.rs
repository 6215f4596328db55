//! Convolution hyper-parameters ([`Conv2dOptions`]) and the derived geometry of one call.

/// Hyper-parameters of a 2-d convolution, as the arguments of PyTorch's `F.conv2d`: stride,
/// zero padding, dilation and groups, each as (height, width). The default is stride 1, padding
/// 0, dilation 1, groups 1.
///
/// ```
/// use nn_core::ops::Conv2dOptions;
/// let o = Conv2dOptions::default().with_stride(2).with_padding(1);
/// assert_eq!((o.stride, o.padding, o.dilation, o.groups), ((2, 2), (1, 1), (1, 1), 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Conv2dOptions {
    /// Step between two applications of the kernel, (height, width). At least 1.
    pub stride: (usize, usize),
    /// Zeros added on both sides of the input, (height, width).
    pub padding: (usize, usize),
    /// Spacing between kernel taps, (height, width) (`à trous` convolution). At least 1.
    pub dilation: (usize, usize),
    /// Number of groups: input and output channels are split into `groups` blocks and block `g`
    /// of the output sees only block `g` of the input. `groups == in_channels` is a depthwise
    /// convolution.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// The same stride in both directions.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }
    /// The same padding in both directions.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }
    /// The same dilation in both directions.
    pub fn with_dilation(mut self, d: usize) -> Self {
        self.dilation = (d, d);
        self
    }
    /// The number of groups.
    pub fn with_groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// The output size along one axis: ⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1, or `None` if
/// the (padded) input is smaller than the dilated kernel.
pub(crate) fn conv_out_len(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Option<usize> {
    let span = dil * (kernel - 1) + 1;
    (input + 2 * pad >= span).then(|| (input + 2 * pad - span) / stride + 1)
}

/// Everything a convolution kernel needs to know about one call (all sizes validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geom {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geom {
    /// Validates the shapes of input `[n, cin, h, w]` and weight `[cout, cin/groups, kh, kw]`
    /// against the options; panics naming the op and the shapes otherwise.
    pub(crate) fn new(x: &[usize], wt: &[usize], o: &Conv2dOptions) -> Geom {
        assert!(
            x.len() == 4 && wt.len() == 4,
            "conv2d: expected a 4-d input [N, C, H, W] and a 4-d weight [C_out, C_in/groups, kH, \
             kW], got input {x:?} and weight {wt:?}"
        );
        assert!(
            o.stride.0 >= 1 && o.stride.1 >= 1 && o.dilation.0 >= 1 && o.dilation.1 >= 1,
            "conv2d: stride {:?} and dilation {:?} must be at least 1",
            o.stride,
            o.dilation
        );
        let g = o.groups;
        assert!(
            g >= 1 && x[1].is_multiple_of(g) && wt[0].is_multiple_of(g) && wt[1] * g == x[1],
            "conv2d: input {x:?} and weight {wt:?} do not fit groups = {g} (need C_in divisible \
             by groups, C_out divisible by groups and weight.shape[1] = C_in / groups)"
        );
        assert!(
            wt[2] >= 1 && wt[3] >= 1,
            "conv2d: empty kernel in weight {wt:?}"
        );
        let oh = conv_out_len(x[2], wt[2], o.stride.0, o.padding.0, o.dilation.0);
        let ow = conv_out_len(x[3], wt[3], o.stride.1, o.padding.1, o.dilation.1);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            panic!(
                "conv2d: input {x:?} with padding {:?} is smaller than the kernel {:?} dilated by \
                 {:?}",
                o.padding,
                &wt[2..],
                o.dilation
            );
        };
        Geom {
            n: x[0],
            cin: x[1],
            h: x[2],
            w: x[3],
            cout: wt[0],
            kh: wt[2],
            kw: wt[3],
            sh: o.stride.0,
            sw: o.stride.1,
            ph: o.padding.0,
            pw: o.padding.1,
            dh: o.dilation.0,
            dw: o.dilation.1,
            groups: g,
            oh,
            ow,
        }
    }

    /// Input channels per group.
    pub fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    /// Output channels per group.
    pub fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of the unfolded input of one group: cin/groups · kh · kw.
    pub fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    /// Output pixels per channel.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Input pixels per channel.
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
    /// A 1×1 kernel with stride 1 and no padding: the unfolded input is the input itself.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }
    /// The output shape [n, cout, oh, ow].
    pub fn out_shape(&self) -> [usize; 4] {
        [self.n, self.cout, self.oh, self.ow]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        assert_eq!(conv_out_len(32, 3, 1, 1, 1), Some(32));
        assert_eq!(conv_out_len(32, 3, 2, 1, 1), Some(16));
        assert_eq!(conv_out_len(7, 3, 2, 0, 1), Some(3));
        assert_eq!(conv_out_len(7, 3, 1, 0, 2), Some(3));
        assert_eq!(conv_out_len(2, 3, 1, 0, 1), None);
        assert_eq!(conv_out_len(2, 3, 1, 1, 1), Some(2));
    }

    #[test]
    #[should_panic(expected = "do not fit groups")]
    fn groups_must_divide_channels() {
        let _ = Geom::new(
            &[1, 6, 5, 5],
            &[4, 2, 3, 3],
            &Conv2dOptions::default().with_groups(4),
        );
    }
}
