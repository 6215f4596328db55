//! Padding: the border mode ([`PaddingMode`]), the amounts ([`Padding`], torchvision's "number
//! or list" shorthand) and the [`Fill`] value of pixels from outside the image.

use serde::{Deserialize, Serialize};
use std::fmt;

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

    /// Checks that a per-channel fill has a value for every channel of images in `input` (one
    /// value serves all channels).
    pub(crate) fn check_channels(&self, t: &str, input: crate::ShapeRange) -> crate::Result<()> {
        match self {
            Fill::PerChannel(v) if v.len() > 1 && v.len() < input.channels[1] => {
                Err(crate::AugmentError::shape(
                    t,
                    input,
                    format!(
                        "at most {} channels (the fill has {} values)",
                        v.len(),
                        v.len()
                    ),
                ))
            }
            _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_index_follows_numpy_pad_modes() {
        // n = 3, indices -3..6: constant / edge / reflect / symmetric.
        let at = |m: PaddingMode| (-3..6).map(|i| m.map_index(i, 3)).collect::<Vec<_>>();
        assert_eq!(at(PaddingMode::Constant)[..3], [None, None, None]);
        let some = |v: &[usize]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        assert_eq!(at(PaddingMode::Edge), some(&[0, 0, 0, 0, 1, 2, 2, 2, 2]));
        assert_eq!(at(PaddingMode::Reflect), some(&[1, 2, 1, 0, 1, 2, 1, 0, 1]));
        assert_eq!(
            at(PaddingMode::Symmetric),
            some(&[2, 1, 0, 0, 1, 2, 2, 1, 0])
        );
        // A single pixel reflects onto itself.
        assert_eq!(PaddingMode::Reflect.map_index(-2, 1), Some(0));
    }

    #[test]
    fn names_round_trip_through_serde() {
        for m in [
            PaddingMode::Constant,
            PaddingMode::Edge,
            PaddingMode::Reflect,
            PaddingMode::Symmetric,
        ] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<PaddingMode>(&json).unwrap(), m);
        }
    }
}
