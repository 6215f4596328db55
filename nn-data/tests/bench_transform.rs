//! The crop+flip closure used by the loader bench agrees with a naive pad-crop-flip.

use ndarray::{Array3, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "../benches/common/loader_cases.rs"]
#[allow(dead_code)]
mod common;

#[test]
fn bench_crop_flip_matches_naive_pad_crop_flip() {
    let tf = common::crop_flip();
    let img = Array3::from_shape_fn((3, 32, 32), |(c, h, w)| (c * 1024 + h * 32 + w) as f32);
    for seed in 0..200 {
        let got = tf(img.clone(), &mut ChaCha8Rng::seed_from_u64(seed));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dy = rng.random_range(0..=8i64) as usize;
        let dx = rng.random_range(0..=8i64) as usize;
        let flip = rng.random_bool(0.5);
        let mut padded = Array3::zeros((3, 40, 40));
        padded.slice_mut(s![.., 4..36, 4..36]).assign(&img);
        let mut want = padded.slice(s![.., dy..dy + 32, dx..dx + 32]).to_owned();
        if flip {
            want.invert_axis(ndarray::Axis(2));
        }
        assert_eq!(got, want, "seed {seed}");
    }
}
