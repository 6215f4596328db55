//! Image shapes: [`Shape`] (one CHW image) and [`ShapeRange`] (the shapes a transform or
//! pipeline may output for a range of inputs, whatever the random draws).

use std::fmt;

/// Shape of a CHW image: `[channels, height, width]`.
pub type Shape = [usize; 3];

/// Shape of a CHW array.
pub fn shape_of<S: ndarray::Data<Elem = f32>>(img: &ndarray::ArrayBase<S, ndarray::Ix3>) -> Shape {
    let d = img.dim();
    [d.0, d.1, d.2]
}

/// Inclusive bounds `[min, max]` on the channels, height and width of CHW images: what
/// [`crate::Transform::output_size`] maps. A fixed shape has `min == max` everywhere.
///
/// ```
/// use nn_augment::ShapeRange;
/// let r = ShapeRange::exact([3, 32, 32]).hull(ShapeRange::exact([3, 40, 32]));
/// assert_eq!(r.to_string(), "3×[32, 40]×32");
/// assert_eq!(r.exact_shape(), None);
/// assert_eq!(ShapeRange::exact([1, 28, 28]).exact_shape(), Some([1, 28, 28]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShapeRange {
    /// Channels `[min, max]`.
    pub channels: [usize; 2],
    /// Height `[min, max]`.
    pub height: [usize; 2],
    /// Width `[min, max]`.
    pub width: [usize; 2],
}

impl ShapeRange {
    /// Exactly `shape`.
    pub fn exact(shape: Shape) -> Self {
        let [c, h, w] = shape;
        ShapeRange {
            channels: [c, c],
            height: [h, h],
            width: [w, w],
        }
    }

    /// The one shape of the range, if all bounds are tight.
    pub fn exact_shape(&self) -> Option<Shape> {
        let tight = |r: [usize; 2]| (r[0] == r[1]).then_some(r[0]);
        Some([
            tight(self.channels)?,
            tight(self.height)?,
            tight(self.width)?,
        ])
    }

    /// The smallest range containing both.
    pub fn hull(self, other: ShapeRange) -> ShapeRange {
        let h = |a: [usize; 2], b: [usize; 2]| [a[0].min(b[0]), a[1].max(b[1])];
        ShapeRange {
            channels: h(self.channels, other.channels),
            height: h(self.height, other.height),
            width: h(self.width, other.width),
        }
    }

    /// The same channels with height and width set to `[min, max]` each.
    pub fn with_hw(self, height: [usize; 2], width: [usize; 2]) -> ShapeRange {
        ShapeRange {
            height,
            width,
            ..self
        }
    }

    /// The same height and width with `c` channels.
    pub fn with_channels(self, c: usize) -> ShapeRange {
        ShapeRange {
            channels: [c, c],
            ..self
        }
    }

    /// The four (height, width) corners of the range: the extremes of any output size that is
    /// monotone in each of height and width.
    pub fn hw_corners(&self) -> [(usize, usize); 4] {
        let ([h0, h1], [w0, w1]) = (self.height, self.width);
        [(h0, w0), (h0, w1), (h1, w0), (h1, w1)]
    }

    /// Bounds over a set of (height, width) outputs: the range with these heights and widths.
    pub(crate) fn hw_bounds(self, outputs: impl IntoIterator<Item = (usize, usize)>) -> ShapeRange {
        let (mut h, mut w) = ([usize::MAX, 0], [usize::MAX, 0]);
        for (a, b) in outputs {
            h = [h[0].min(a), h[1].max(a)];
            w = [w[0].min(b), w[1].max(b)];
        }
        self.with_hw(h, w)
    }
}

impl fmt::Display for ShapeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: [usize; 2]| {
            if r[0] == r[1] {
                r[0].to_string()
            } else {
                format!("[{}, {}]", r[0], r[1])
            }
        };
        write!(
            f,
            "{}×{}×{}",
            show(self.channels),
            show(self.height),
            show(self.width)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_and_bounds() {
        let a = ShapeRange::exact([3, 10, 20]);
        let b = ShapeRange::exact([1, 30, 5]);
        let h = a.hull(b);
        assert_eq!(h.channels, [1, 3]);
        assert_eq!(h.height, [10, 30]);
        assert_eq!(h.width, [5, 20]);
        assert_eq!(h.hull(a), h);
        assert_eq!(
            a.hw_bounds([(4, 9), (7, 2)]),
            ShapeRange {
                channels: [3, 3],
                height: [4, 7],
                width: [2, 9]
            }
        );
        assert_eq!(h.hw_corners(), [(10, 5), (10, 20), (30, 5), (30, 20)]);
        assert_eq!(h.to_string(), "[1, 3]×[10, 30]×[5, 20]");
        assert_eq!(a.with_channels(1).exact_shape(), Some([1, 10, 20]));
    }
}
