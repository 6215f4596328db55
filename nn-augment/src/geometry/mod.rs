//! Geometric transforms: flips, crops, resizes, affine warps, rotation and lens distortion.

pub mod affine;
pub mod crop;
pub mod flip;
pub mod lens;
pub mod resize;
pub mod resized_crop;
pub mod rotate;
