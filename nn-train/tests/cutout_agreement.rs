//! The two forms of Cutout agree: nn-augment's per-sample transform (job file `[augment]`) and
//! nn-regularize's batch hook draw the same squares from the same generator, so moving cutout
//! between the two places of a job does not change what it does.

use nn_augment::Transform;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn per_sample_and_batch_cutout_draw_the_same_boxes() {
    for (size, holes, p) in [(16usize, 1usize, 1.0f32), (5, 3, 1.0), (8, 2, 0.5)] {
        let mut a_cfg = nn_augment::CutoutConfig::new(size);
        a_cfg.n_holes = holes;
        a_cfg.p = f64::from(p);
        let a = a_cfg.init().unwrap();
        let mut r_cfg = nn_regularize::CutoutConfig::new(size);
        r_cfg.n_holes = holes;
        r_cfg.p = p;
        let r = r_cfg.init().unwrap();
        for (seed, (h, w)) in (0..40).zip([(32, 32), (9, 13), (40, 24)].into_iter().cycle()) {
            let mut g1 = ChaCha8Rng::seed_from_u64(seed);
            let mut g2 = ChaCha8Rng::seed_from_u64(seed);
            let ours: Vec<_> = a
                .sample_params([3, h, w], &mut g1)
                .into_iter()
                .map(|b| (b.y0, b.y1, b.x0, b.x1))
                .collect();
            let theirs: Vec<_> = r
                .sample((h, w), &mut g2)
                .into_iter()
                .map(|b| (b.y0, b.y1, b.x0, b.x1))
                .collect();
            assert_eq!(
                ours, theirs,
                "size {size}, holes {holes}, p {p}, seed {seed}"
            );
        }
    }
}
