//! The "number or pair" config shorthands of torchvision: an output [`Size`] (`32` or
//! `[h, w]`) and a random parameter's [`Range`] (`x` around a neutral value or `[lo, hi]`), and
//! serde's default-value helpers.

use serde::{Deserialize, Serialize};

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

pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn default_half() -> f64 {
    0.5
}
