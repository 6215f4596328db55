//! Crops and padding: `crop`, `pad`, `center_crop`, `five_crop`, `ten_crop` and the
//! `RandomCrop` / `CenterCrop` / `Pad` transforms.
//!
//! `RandomCrop(32, padding=4)` followed by a horizontal flip is the CIFAR-10 recipe of
//! He et al. 2016 ("Deep Residual Learning"): pad 4 pixels on each side, take a random 32×32 crop.

use crate::error::{AugmentError, Result};
use crate::kernels::crop::crop_padded;
use crate::padding::{Fill, Padding, PaddingMode};
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::Size;
use crate::transform::{Transform, int_inclusive};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Axis-aligned crop box in (possibly padded) pixel coordinates. `top`/`left` may be negative or
/// the box may extend past the image: the outside is padded (torchvision `crop` semantics). The
/// parameters of [`RandomCrop`] and [`CenterCrop`] (and the crop of
/// [`crate::RandomResizedCrop`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// First row of the crop (image coordinates; negative = inside the top padding).
    pub top: isize,
    /// First column of the crop.
    pub left: isize,
    /// Crop height.
    pub height: usize,
    /// Crop width.
    pub width: usize,
}

/// Crops rows `top..top+height` and columns `left..left+width`; the parts outside the image are
/// zero (torchvision `F.crop`).
pub fn crop<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    top: isize,
    left: isize,
    height: usize,
    width: usize,
) -> Array3<f32> {
    crop_padded(
        img,
        top,
        left,
        height,
        width,
        PaddingMode::Constant,
        &Fill::Scalar(0.0),
    )
}

/// Pads `[left, top, right, bottom]` pixels (torchvision `F.pad`).
pub fn pad<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    ltrb: [usize; 4],
    mode: PaddingMode,
    fill: &Fill,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let [l, t, r, b] = ltrb;
    if mode == PaddingMode::Reflect {
        assert!(
            l < w.max(1) && r < w.max(1) && t < h.max(1) && b < h.max(1),
            "pad: reflect padding {ltrb:?} must be smaller than the image {h}x{w}"
        );
    }
    crop_padded(
        img,
        -(t as isize),
        -(l as isize),
        h + t + b,
        w + l + r,
        mode,
        fill,
    )
}

/// The crop box of torchvision's `center_crop` (with zero padding when the crop is larger).
pub fn center_crop_box(h: usize, w: usize, ch: usize, cw: usize) -> CropBox {
    let anchor = |n: usize, c: usize| -> isize {
        if c > n {
            -(((c - n) / 2) as isize)
        } else {
            ((n - c) as f64 / 2.0).round_ties_even() as isize
        }
    };
    CropBox {
        top: anchor(h, ch),
        left: anchor(w, cw),
        height: ch,
        width: cw,
    }
}

/// Crops the centre `height × width` (torchvision `F.center_crop`; zero-pads if larger).
pub fn center_crop<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    height: usize,
    width: usize,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let b = center_crop_box(h, w, height, width);
    crop(img, b.top, b.left, b.height, b.width)
}

/// The four corner crops and the centre crop: `[top-left, top-right, bottom-left, bottom-right,
/// centre]` (torchvision `F.five_crop`).
///
/// # Panics
/// If the crop is larger than the image.
pub fn five_crop<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    height: usize,
    width: usize,
) -> [Array3<f32>; 5] {
    let (_, h, w) = img.dim();
    assert!(
        height <= h && width <= w,
        "five_crop: crop {height}x{width} is larger than the image {h}x{w}"
    );
    let (bh, bw) = ((h - height) as isize, (w - width) as isize);
    [
        crop(img, 0, 0, height, width),
        crop(img, 0, bw, height, width),
        crop(img, bh, 0, height, width),
        crop(img, bh, bw, height, width),
        center_crop(img, height, width),
    ]
}

/// [`five_crop`] of the image followed by [`five_crop`] of its horizontal (or, with `vertical`,
/// vertical) flip (torchvision `F.ten_crop`).
pub fn ten_crop<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    height: usize,
    width: usize,
    vertical: bool,
) -> [Array3<f32>; 10] {
    let a = five_crop(img, height, width);
    let flipped = if vertical {
        super::flip::vflip(img)
    } else {
        super::flip::hflip(img)
    };
    let b = five_crop(&flipped, height, width);
    let [a0, a1, a2, a3, a4] = a;
    let [b0, b1, b2, b3, b4] = b;
    [a0, a1, a2, a3, a4, b0, b1, b2, b3, b4]
}

/// Config of [`RandomCrop`] (torchvision defaults: no padding, fill 0, constant mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCropConfig {
    /// Output size.
    pub size: Size,
    /// Padding added before cropping (`[left, top, right, bottom]` or one number).
    #[serde(default)]
    pub padding: Option<Padding>,
    /// Pad (symmetrically) when the image is smaller than the crop.
    #[serde(default)]
    pub pad_if_needed: bool,
    /// Fill value for the constant mode.
    #[serde(default)]
    pub fill: Fill,
    /// How to pad.
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

impl RandomCropConfig {
    /// A crop of `size` with torchvision's defaults.
    pub fn new(size: impl Into<Size>) -> Self {
        RandomCropConfig {
            size: size.into(),
            padding: None,
            pad_if_needed: false,
            fill: Fill::default(),
            padding_mode: PaddingMode::Constant,
        }
    }

    /// Sets the padding on every side.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = Some(Padding::All(p));
        self
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomCrop> {
        let t = "random_crop";
        let (h, w) = self.size.validate(t, "size")?;
        let padding = match &self.padding {
            Some(p) => p.ltrb(t, "padding")?,
            None => [0; 4],
        };
        self.fill.validate(t, "fill")?;
        Ok(RandomCrop {
            cfg: self.clone(),
            h,
            w,
            padding,
        })
    }
}

/// Crop at a uniformly random position, after optional padding (torchvision `RandomCrop`).
///
/// Parameters: `top ∈ [−pad_top, H + pad_bottom − h]`, `left` likewise (uniform integers).
///
/// # Panics
/// `sample_params` panics (naming the shapes) if the padded image is smaller than the crop and
/// `pad_if_needed` is off, as torchvision raises.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomCrop {
    cfg: RandomCropConfig,
    h: usize,
    w: usize,
    padding: [usize; 4],
}

impl RandomCrop {
    /// The CIFAR recipe crop: `size` with `padding` zero pixels on each side.
    pub fn new(size: usize, padding: usize) -> Result<Self> {
        RandomCropConfig::new(size).with_padding(padding).init()
    }
}

impl fmt::Display for RandomCrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomCrop(size=({}, {}), padding={:?}, pad_if_needed={}, fill={}, padding_mode={})",
            self.h,
            self.w,
            self.padding,
            self.cfg.pad_if_needed,
            self.cfg.fill,
            self.cfg.padding_mode
        )
    }
}

impl RandomCrop {
    /// The padding `[left, top, right, bottom]` for an `h × w` input (`pad_if_needed` adds what
    /// the crop lacks, on both sides).
    fn padding_for(&self, h: usize, w: usize) -> [usize; 4] {
        let [mut pl, mut pt, mut pr, mut pb] = self.padding;
        if self.cfg.pad_if_needed {
            if h + pt + pb < self.h {
                let d = self.h - (h + pt + pb);
                pt += d;
                pb += d;
            }
            if w + pl + pr < self.w {
                let d = self.w - (w + pl + pr);
                pl += d;
                pr += d;
            }
        }
        [pl, pt, pr, pb]
    }
}

impl Transform for RandomCrop {
    type Params = CropBox;

    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> CropBox {
        let [_, h, w] = shape;
        let [pl, pt, pr, pb] = self.padding_for(h, w);
        let (ph, pw) = (h + pt + pb, w + pl + pr);
        assert!(
            ph >= self.h && pw >= self.w,
            "RandomCrop: crop {}x{} is larger than the padded image {ph}x{pw}",
            self.h,
            self.w
        );
        let top = int_inclusive(rng, 0, ph - self.h) as isize - pt as isize;
        let left = int_inclusive(rng, 0, pw - self.w) as isize - pl as isize;
        CropBox {
            top,
            left,
            height: self.h,
            width: self.w,
        }
    }

    fn apply(&self, img: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        crop_padded(
            img,
            b.top,
            b.left,
            b.height,
            b.width,
            self.cfg.padding_mode,
            &self.cfg.fill,
        )
    }

    fn apply_mask(&self, mask: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        crop(mask, b.top, b.left, b.height, b.width)
    }

    fn output_shape(&self, shape: Shape, _params: &CropBox) -> Shape {
        [shape[0], self.h, self.w]
    }

    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let t = "random_crop";
        let (h, w) = (input.height[0], input.width[0]);
        let [pl, pt, pr, pb] = self.padding_for(h, w);
        if h + pt + pb < self.h || w + pl + pr < self.w {
            return Err(AugmentError::shape(
                t,
                input,
                format!(
                    "images of at least {}×{} after padding {:?} (set padding or pad_if_needed)",
                    self.h, self.w, self.padding
                ),
            ));
        }
        if self.cfg.padding_mode != PaddingMode::Constant && (h == 0 || w == 0) {
            return Err(AugmentError::shape(t, input, "non-empty images"));
        }
        self.cfg.fill.check_channels(t, input)?;
        Ok(input.with_hw([self.h; 2], [self.w; 2]))
    }
}

/// Config of [`CenterCrop`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterCropConfig {
    /// Output size.
    pub size: Size,
}

impl CenterCropConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<CenterCrop> {
        let (h, w) = self.size.validate("center_crop", "size")?;
        Ok(CenterCrop { h, w })
    }
}

/// Deterministic centre crop (torchvision `CenterCrop`; zero-pads when the image is smaller).
#[derive(Clone, Debug, PartialEq)]
pub struct CenterCrop {
    h: usize,
    w: usize,
}

impl CenterCrop {
    /// A centre crop of `size`.
    pub fn new(size: impl Into<Size>) -> Result<Self> {
        CenterCropConfig { size: size.into() }.init()
    }
}

impl fmt::Display for CenterCrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CenterCrop(size=({}, {}))", self.h, self.w)
    }
}

/// Parameters: the centre box for the input's size (no randomness).
impl Transform for CenterCrop {
    type Params = CropBox;
    fn sample_params(&self, shape: Shape, _rng: &mut dyn RngCore) -> CropBox {
        center_crop_box(shape[1], shape[2], self.h, self.w)
    }
    fn apply(&self, img: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        crop(img, b.top, b.left, b.height, b.width)
    }
    fn apply_mask(&self, mask: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        self.apply(mask, b)
    }
    fn output_shape(&self, shape: Shape, _params: &CropBox) -> Shape {
        [shape[0], self.h, self.w]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        Ok(input.with_hw([self.h; 2], [self.w; 2]))
    }
}

/// Config of [`Pad`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadConfig {
    /// Padding (`[left, top, right, bottom]` or one number).
    pub padding: Padding,
    /// Fill value for the constant mode.
    #[serde(default)]
    pub fill: Fill,
    /// How to pad.
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

impl PadConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<Pad> {
        let ltrb = self.padding.ltrb("pad", "padding")?;
        self.fill.validate("pad", "fill")?;
        Ok(Pad {
            ltrb,
            cfg: self.clone(),
        })
    }
}

/// Deterministic padding (torchvision `Pad`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pad {
    ltrb: [usize; 4],
    cfg: PadConfig,
}

impl fmt::Display for Pad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pad(padding={:?}, fill={}, padding_mode={})",
            self.ltrb, self.cfg.fill, self.cfg.padding_mode
        )
    }
}

impl Transform for Pad {
    type Params = ();
    fn sample_params(&self, _shape: Shape, _rng: &mut dyn RngCore) {}
    fn apply(&self, img: &Array3<f32>, _params: &()) -> Array3<f32> {
        pad(img, self.ltrb, self.cfg.padding_mode, &self.cfg.fill)
    }
    fn apply_mask(&self, mask: &Array3<f32>, _params: &()) -> Array3<f32> {
        pad(mask, self.ltrb, PaddingMode::Constant, &Fill::Scalar(0.0))
    }
    fn output_shape(&self, shape: Shape, _params: &()) -> Shape {
        let [l, t, r, b] = self.ltrb;
        [shape[0], shape[1] + t + b, shape[2] + l + r]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let [l, t, r, b] = self.ltrb;
        let (h, w) = (input.height[0], input.width[0]);
        let fits = match self.cfg.padding_mode {
            PaddingMode::Constant => true,
            PaddingMode::Reflect => l.max(r) < w.max(1) && t.max(b) < h.max(1) && h * w > 0,
            PaddingMode::Edge | PaddingMode::Symmetric => h * w > 0,
        };
        if !fits {
            return Err(AugmentError::shape(
                "pad",
                input,
                format!(
                    "non-empty images (reflect: larger than the padding {:?})",
                    self.ltrb
                ),
            ));
        }
        self.cfg.fill.check_channels("pad", input)?;
        let add = |r: [usize; 2], a: usize| [r[0] + a, r[1] + a];
        Ok(input.with_hw(add(input.height, t + b), add(input.width, l + r)))
    }
}
