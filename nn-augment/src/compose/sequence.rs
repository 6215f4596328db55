//! [`Sequence`] (torchvision `Compose`), the pipeline type, and its config, which also tells a
//! pipeline's output shape.

use super::{
    build_children, seq_apply, seq_apply_owned, seq_mask, seq_sample, seq_shape, seq_size,
    write_children,
};
use crate::config::TransformConfig;
use crate::error::{AugmentError, Result};
use crate::shape::{Shape, ShapeRange};
use crate::transform::{DynParams, DynTransform, Transform};
use ndarray::Array3;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Config of a [`Sequence`] (also the top-level pipeline config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// The transforms, applied in order.
    pub transforms: Vec<TransformConfig>,
}

impl SequenceConfig {
    /// Validates and builds the pipeline.
    pub fn init(&self) -> Result<Sequence> {
        Ok(Sequence {
            transforms: build_children(&self.transforms)?,
        })
    }

    /// Parses a JSON config: `{"transforms": [{"type": "random_crop", "size": 32, ...}, ...]}`.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| AugmentError::Parse {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Parses a TOML config: `[[transforms]]` tables with a `type` key.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| AugmentError::Parse {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// The config as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("configs serialise")
    }

    /// The shape of every image this pipeline outputs for `[C, H, W]` inputs, computed from the
    /// transforms' [`output_size`](Transform::output_size) without running them: what a model
    /// trained on the augmented images takes.
    ///
    /// # Errors
    /// [`AugmentError::InvalidParameter`] for an invalid config; [`AugmentError::Shape`] if a
    /// transform cannot take what it would be given (naming its place, e.g. a 32×32 crop of
    /// 28×28 images without padding), or if the output shape depends on the random draws
    /// (e.g. a pipeline ending in a random resize: batches need one shape).
    ///
    /// ```
    /// use nn_augment::PipelineConfig;
    /// let cifar = nn_augment::recipes::cifar10_train();
    /// assert_eq!(cifar.output_shape([3, 32, 32]).unwrap(), [3, 32, 32]);
    /// // Padded by 4, a 20×20 image is still smaller than the 32×32 crop:
    /// let e = cifar.output_shape([3, 20, 20]).unwrap_err().to_string();
    /// assert!(e.contains("transforms[0].random_crop"), "{e}");
    /// ```
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        let range = self.output_range(input)?;
        range.exact_shape().ok_or_else(|| {
            AugmentError::shape(
                "pipeline",
                ShapeRange::exact(input),
                format!(
                    "one output shape, but the output varies with the random draws ({range}): \
                     end the pipeline with a crop or resize to a fixed size"
                ),
            )
        })
    }

    /// The range of shapes this pipeline outputs for `[C, H, W]` inputs (see
    /// [`output_shape`](SequenceConfig::output_shape), which needs it to be one shape).
    ///
    /// # Errors
    /// As [`output_shape`](SequenceConfig::output_shape), except for a varying output.
    pub fn output_range(&self, input: Shape) -> Result<ShapeRange> {
        if input.contains(&0) {
            return Err(AugmentError::shape(
                "pipeline",
                ShapeRange::exact(input),
                "non-empty images",
            ));
        }
        self.init()?.output_size(ShapeRange::exact(input))
    }
}

/// Transforms applied one after another (torchvision `Compose`); the pipeline type.
#[derive(Debug, Default)]
pub struct Sequence {
    transforms: Vec<Box<dyn DynTransform>>,
}

/// The pipeline type: a [`Sequence`].
pub type Pipeline = Sequence;
/// The pipeline config type: a [`SequenceConfig`].
pub type PipelineConfig = SequenceConfig;

impl Sequence {
    /// A sequence of already-built transforms.
    pub fn new(transforms: Vec<Box<dyn DynTransform>>) -> Self {
        Sequence { transforms }
    }

    /// Appends a transform (builder style).
    pub fn then(mut self, t: impl Transform + 'static) -> Self {
        self.transforms.push(Box::new(t));
        self
    }

    /// Appends an already boxed transform (builder style).
    pub fn then_boxed(mut self, t: Box<dyn DynTransform>) -> Self {
        self.transforms.push(t);
        self
    }

    /// The transforms.
    pub fn transforms(&self) -> &[Box<dyn DynTransform>] {
        &self.transforms
    }

    /// Number of transforms.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    /// `true` if empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }

    /// Parses and builds a JSON pipeline config.
    pub fn from_json(text: &str) -> Result<Self> {
        SequenceConfig::from_json(text)?.init()
    }

    /// Parses and builds a TOML pipeline config.
    pub fn from_toml(text: &str) -> Result<Self> {
        SequenceConfig::from_toml(text)?.init()
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(f, "Compose", None, &self.transforms)
    }
}

/// Parameters: the children's, in order.
impl Transform for Sequence {
    type Params = Vec<DynParams>;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Vec<DynParams> {
        seq_sample(&self.transforms, shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, ps: &Vec<DynParams>) -> Array3<f32> {
        seq_apply(&self.transforms, img, ps)
    }
    fn apply_owned(&self, img: Array3<f32>, ps: &Vec<DynParams>) -> Array3<f32> {
        seq_apply_owned(&self.transforms, img, ps)
    }
    fn apply_mask(&self, mask: &Array3<f32>, ps: &Vec<DynParams>) -> Array3<f32> {
        seq_mask(&self.transforms, mask, ps)
    }
    fn output_shape(&self, shape: Shape, ps: &Vec<DynParams>) -> Shape {
        seq_shape(&self.transforms, shape, ps)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        seq_size(self.transforms.iter().enumerate(), input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::test_image;
    use rand::SeedableRng;

    const CIFAR: &str = r#"{"transforms": [
        {"type": "random_crop", "size": 24, "padding": 4},
        {"type": "horizontal_flip"}
    ]}"#;

    #[test]
    fn json_round_trip_and_output_shape() {
        let cfg = SequenceConfig::from_json(CIFAR).unwrap();
        assert_eq!(cfg.transforms.len(), 2);
        assert_eq!(SequenceConfig::from_json(&cfg.to_json()).unwrap(), cfg);
        assert_eq!(cfg.output_shape([3, 32, 32]).unwrap(), [3, 24, 24]);
        let seq = cfg.init().unwrap();
        assert_eq!(seq.len(), 2);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        assert_eq!(
            seq.apply_random(&test_image(32, 32), &mut rng).dim(),
            (3, 24, 24)
        );
    }

    #[test]
    fn empty_sequence_is_the_identity_and_unknown_fields_are_errors() {
        let seq = Sequence::new(vec![]);
        assert!(seq.is_empty());
        let img = test_image(5, 6);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(seq.apply_random(&img, &mut rng), img);
        let err =
            SequenceConfig::from_json(r#"{"transforms": [{"type": "horizontal_flip", "q": 1}]}"#);
        assert!(err.unwrap_err().to_string().contains('q'));
    }
}
