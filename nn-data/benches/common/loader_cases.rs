//! Shared by the loader bench and the `loader_throughput` example: a CIFAR-shaped in-memory data
//! set and the standard CIFAR augmentation (random crop with 4-pixel zero padding + horizontal
//! flip), written here because nn-data does not depend on nn-augment.

use ndarray::{Array3, Array4};
use nn_data::{Dataset, InMemoryDataset, SampleTransform};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// `n` random 3×32×32 byte images with labels `i % 10`.
pub fn cifar_like(n: usize) -> Arc<dyn Dataset> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let data = Array4::from_shape_fn((n, 3, 32, 32), |_| rng.random::<u8>());
    Arc::new(InMemoryDataset::from_u8(data, 255.0, (0..n).map(|i| i % 10).collect(), 10).unwrap())
}

/// `RandomCrop(32, padding=4)` + `RandomHorizontalFlip(0.5)` on a CHW image: parameters drawn
/// first, then one pass writing the output (zero where the window leaves the image).
pub fn crop_flip() -> SampleTransform {
    Arc::new(|img: Array3<f32>, rng: &mut ChaCha8Rng| {
        const PAD: isize = 4;
        let (c, h, w) = img.dim();
        let dy = rng.random_range(0..=2 * PAD as i64) as isize - PAD;
        let dx = rng.random_range(0..=2 * PAD as i64) as isize - PAD;
        let flip = rng.random_bool(0.5);
        let src = img.as_slice().expect("standard layout");
        let mut out = vec![0f32; c * h * w];
        let (hi, wi) = (h as isize, w as isize);
        // Output column x reads source column x + dx (before the flip).
        let x0 = (-dx).clamp(0, wi) as usize;
        let x1 = (wi - dx).clamp(0, wi) as usize;
        for ch in 0..c {
            for y in 0..h {
                let sy = y as isize + dy;
                if !(0..hi).contains(&sy) || x0 >= x1 {
                    continue;
                }
                let s_row = &src[(ch * h + sy as usize) * w..][..w];
                let o_row = &mut out[(ch * h + y) * w..][..w];
                let s0 = (x0 as isize + dx) as usize;
                o_row[x0..x1].copy_from_slice(&s_row[s0..s0 + (x1 - x0)]);
                if flip {
                    o_row.reverse();
                }
            }
        }
        Array3::from_shape_vec((c, h, w), out).expect("c·h·w values")
    })
}
