//! Small value types shared by the transforms and their configs: shapes, interpolation and
//! padding modes, fill values, and the "number or pair" config shorthands of torchvision.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Shape of a CHW image: `[channels, height, width]`.
pub type Shape = [usize; 3];

/// Shape of a CHW array.
pub fn shape_of<S: ndarray::Data<Elem = f32>>(img: &ndarray::ArrayBase<S, ndarray::Ix3>) -> Shape {
    let d = img.dim();
    [d.0, d.1, d.2]
}

/// How pixel values are interpolated when the sampling grid falls between pixels
/// (torchvision's `InterpolationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// PyTorch `"nearest"`: source index `floor(i · in/out)` (resize), `round-half-even` (warps).
    Nearest,
    /// PyTorch `"nearest-exact"`: source index `floor((i + ½) · in/out)` (resize only; warps
    /// treat it as `Nearest`).
    NearestExact,
    /// Linear in each axis (triangle filter; widened by the scale factor when antialiasing).
    #[default]
    Bilinear,
    /// Cubic convolution (Keys, a = −0.75; a = −0.5 with antialias, as PIL and PyTorch).
    Bicubic,
}

impl Interpolation {
    /// Lower-case config name.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::NearestExact => "nearest_exact",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
        }
    }

    /// `true` for the two nearest-neighbour modes.
    pub fn is_nearest(self) -> bool {
        matches!(self, Interpolation::Nearest | Interpolation::NearestExact)
    }
}

impl fmt::Display for Interpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the border is extended when padding (torchvision's `padding_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// A constant fill value.
    #[default]
    Constant,
    /// Repeat the edge pixel (`replicate`).
    Edge,
    /// Mirror without repeating the edge: `… 2 1 | 0 1 2 …`.
    Reflect,
    /// Mirror repeating the edge: `… 1 0 | 0 1 2 …`.
    Symmetric,
}

impl PaddingMode {
    /// Lower-case config name.
    pub fn name(self) -> &'static str {
        match self {
            PaddingMode::Constant => "constant",
            PaddingMode::Edge => "edge",
            PaddingMode::Reflect => "reflect",
            PaddingMode::Symmetric => "symmetric",
        }
    }

    /// Maps a possibly out-of-range index into `0..n`, or `None` for the constant mode.
    #[inline]
    pub fn map_index(self, i: isize, n: usize) -> Option<usize> {
        let n = n as isize;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        match self {
            PaddingMode::Constant => None,
            PaddingMode::Edge => Some(i.clamp(0, n - 1) as usize),
            PaddingMode::Reflect => {
                if n == 1 {
                    return Some(0);
                }
                let period = 2 * (n - 1);
                let m = i.rem_euclid(period);
                Some(if m < n { m } else { period - m } as usize)
            }
            PaddingMode::Symmetric => {
                let period = 2 * n;
                let m = i.rem_euclid(period);
                Some(if m < n { m } else { period - 1 - m } as usize)
            }
        }
    }
}

impl fmt::Display for PaddingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fill value for pixels that come from outside the image: one value for every channel or one
/// per channel. In configs: a number (`0`) or a list (`[0.485, 0.456, 0.406]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fill {
    /// The same value in every channel.
    Scalar(f32),
    /// One value per channel.
    PerChannel(Vec<f32>),
}

impl Default for Fill {
    fn default() -> Self {
        Fill::Scalar(0.0)
    }
}

impl Fill {
    /// Value for channel `c`.
    ///
    /// # Panics
    /// If a per-channel fill has fewer entries than the image has channels.
    #[inline]
    pub fn value(&self, c: usize) -> f32 {
        match self {
            Fill::Scalar(v) => *v,
            Fill::PerChannel(v) if v.len() == 1 => v[0],
            Fill::PerChannel(v) => *v.get(c).unwrap_or_else(|| {
                panic!(
                    "fill: per-channel fill has {} values, image channel {c} needs more",
                    v.len()
                )
            }),
        }
    }

    pub(crate) fn validate(&self, t: &str, field: &str) -> crate::Result<()> {
        let ok = match self {
            Fill::Scalar(v) => v.is_finite(),
            Fill::PerChannel(v) => !v.is_empty() && v.iter().all(|x| x.is_finite()),
        };
        if ok {
            Ok(())
        } else {
            Err(crate::AugmentError::invalid(
                t,
                field,
                self,
                "a finite number or a non-empty list",
            ))
        }
    }
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fill::Scalar(v) => write!(f, "{v}"),
            Fill::PerChannel(v) => write!(f, "{v:?}"),
        }
    }
}

/// An output size: a square side (`32`) or `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    /// `side × side`.
    Square(usize),
    /// `[height, width]`.
    Hw([usize; 2]),
}

impl Size {
    /// `(height, width)`.
    pub fn hw(self) -> (usize, usize) {
        match self {
            Size::Square(s) => (s, s),
            Size::Hw([h, w]) => (h, w),
        }
    }

    pub(crate) fn validate(self, t: &str, field: &str) -> crate::Result<(usize, usize)> {
        let (h, w) = self.hw();
        if h == 0 || w == 0 {
            return Err(crate::AugmentError::invalid(
                t,
                field,
                self,
                "sizes ≥ 1 pixel",
            ));
        }
        Ok((h, w))
    }
}

impl From<usize> for Size {
    fn from(s: usize) -> Self {
        Size::Square(s)
    }
}

impl From<(usize, usize)> for Size {
    fn from((h, w): (usize, usize)) -> Self {
        Size::Hw([h, w])
    }
}

/// An interval for a random parameter: `x` (meaning `[centre − x, centre + x]`, the centre
/// depending on the parameter) or an explicit `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Range {
    /// Half-width around the parameter's neutral value.
    Around(f64),
    /// Explicit bounds.
    Between([f64; 2]),
}

impl Range {
    /// Resolves to `[lo, hi]` around `centre`; a half-width must be ≥ 0.
    pub(crate) fn resolve(self, t: &str, field: &str, centre: f64) -> crate::Result<[f64; 2]> {
        match self {
            Range::Around(x) if x >= 0.0 && x.is_finite() => Ok([centre - x, centre + x]),
            Range::Around(x) => Err(crate::AugmentError::invalid(
                t,
                field,
                x,
                "a half-width ≥ 0 or a pair [lo, hi]",
            )),
            Range::Between(r) => Ok(r),
        }
    }
}

impl From<f64> for Range {
    fn from(x: f64) -> Self {
        Range::Around(x)
    }
}

impl From<[f64; 2]> for Range {
    fn from(r: [f64; 2]) -> Self {
        Range::Between(r)
    }
}

/// Padding in pixels: all sides (`4`), `[left/right, top/bottom]` or `[left, top, right, bottom]`
/// (torchvision's order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding {
    /// The same padding on every side.
    All(usize),
    /// `[left/right, top/bottom]` or `[left, top, right, bottom]`.
    Sides(Vec<usize>),
}

impl Padding {
    /// `[left, top, right, bottom]`.
    pub(crate) fn ltrb(&self, t: &str, field: &str) -> crate::Result<[usize; 4]> {
        match self {
            Padding::All(p) => Ok([*p; 4]),
            Padding::Sides(v) => match v.as_slice() {
                [p] => Ok([*p; 4]),
                [x, y] => Ok([*x, *y, *x, *y]),
                [l, t2, r, b] => Ok([*l, *t2, *r, *b]),
                _ => Err(crate::AugmentError::invalid(
                    t,
                    field,
                    v,
                    "a number or a list of 1, 2 or 4 numbers [left, top, right, bottom]",
                )),
            },
        }
    }
}

impl From<usize> for Padding {
    fn from(p: usize) -> Self {
        Padding::All(p)
    }
}

pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn default_half() -> f64 {
    0.5
}
