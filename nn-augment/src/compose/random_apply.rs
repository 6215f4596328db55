//! [`RandomApply`]: a sequence applied with probability `p` (torchvision `RandomApply`).

use super::{
    build_children, seq_apply, seq_apply_owned, seq_mask, seq_sample, seq_shape, seq_size,
    write_children,
};
use crate::config::TransformConfig;
use crate::error::{Result, check};
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::default_half;
use crate::transform::{DynParams, DynTransform, Transform, bernoulli};
use ndarray::Array3;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Config of [`RandomApply`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomApplyConfig {
    /// The transforms (applied in order, all or none).
    pub transforms: Vec<TransformConfig>,
    /// Probability of applying them (default 0.5).
    #[serde(default = "default_half")]
    pub p: f64,
}

impl RandomApplyConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomApply> {
        check::prob("random_apply", "p", self.p)?;
        Ok(RandomApply {
            transforms: build_children(&self.transforms)?,
            p: self.p,
        })
    }
}

/// Applies a sequence of transforms with probability `p` (torchvision `RandomApply`).
#[derive(Debug)]
pub struct RandomApply {
    transforms: Vec<Box<dyn DynTransform>>,
    p: f64,
}

impl RandomApply {
    /// Applies `transforms` together with probability `p`.
    pub fn new(transforms: Vec<Box<dyn DynTransform>>, p: f64) -> Result<Self> {
        check::prob("random_apply", "p", p)?;
        Ok(RandomApply { transforms, p })
    }
}

impl fmt::Display for RandomApply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(
            f,
            "RandomApply",
            Some(format!("p={}", self.p)),
            &self.transforms,
        )
    }
}

/// Parameters: the children's if applied (`None` if skipped).
impl Transform for RandomApply {
    type Params = Option<Vec<DynParams>>;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Option<Vec<DynParams>> {
        bernoulli(rng, self.p).then(|| seq_sample(&self.transforms, shape, rng))
    }
    fn apply(&self, img: &Array3<f32>, params: &Option<Vec<DynParams>>) -> Array3<f32> {
        match params {
            Some(ps) => seq_apply(&self.transforms, img, ps),
            None => img.clone(),
        }
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Option<Vec<DynParams>>) -> Array3<f32> {
        match params {
            Some(ps) => seq_apply_owned(&self.transforms, img, ps),
            None => img,
        }
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Option<Vec<DynParams>>) -> Array3<f32> {
        match params {
            Some(ps) => seq_mask(&self.transforms, mask, ps),
            None => mask.clone(),
        }
    }
    fn output_shape(&self, shape: Shape, params: &Option<Vec<DynParams>>) -> Shape {
        match params {
            Some(ps) => seq_shape(&self.transforms, shape, ps),
            None => shape,
        }
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        if self.p == 0.0 {
            return Ok(input);
        }
        let applied = seq_size(self.transforms.iter().enumerate(), input)?;
        Ok(if self.p == 1.0 {
            applied
        } else {
            applied.hull(input)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::flip::{HorizontalFlip, hflip};
    use crate::synthetic::test_image;
    use rand::SeedableRng;

    fn flip() -> Vec<Box<dyn DynTransform>> {
        vec![Box::new(HorizontalFlip::new(1.0).unwrap())]
    }

    #[test]
    fn applies_all_or_nothing_with_probability_p() {
        let img = test_image(4, 6);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            RandomApply::new(flip(), 0.0)
                .unwrap()
                .apply_random(&img, &mut rng),
            img
        );
        assert_eq!(
            RandomApply::new(flip(), 1.0)
                .unwrap()
                .apply_random(&img, &mut rng),
            hflip(&img)
        );
        let half = RandomApply::new(flip(), 0.5).unwrap();
        let flipped = (0..400)
            .filter(|_| half.apply_random(&img, &mut rng) != img)
            .count();
        // Binomial(400, 0.5): mean 200, sd 10.
        assert!((150..=250).contains(&flipped), "{flipped}");
        assert!(RandomApply::new(flip(), 1.1).is_err());
    }
}
