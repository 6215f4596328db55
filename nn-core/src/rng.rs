//! The workspace's random-number convention.
//!
//! Every random choice in `nn` takes an explicit generator or seed; nothing reads a global or
//! thread-local generator. The generator is [`rand_chacha::ChaCha8Rng`]:
//!
//! * `seeded(seed)` is `ChaCha8Rng::seed_from_u64(seed)`;
//! * independent sub-streams (one per sample, per worker, per trial) come from
//!   [`stream`]`(seed, k)`, which selects ChaCha's stream `k` — so the draws for item `k` do not
//!   depend on which thread handles it or in which order, and results are the same for any
//!   number of threads.
//!
//! `nn-data` and `nn-augment` do not depend on this crate and follow the same convention with
//! `rand_chacha` directly; their APIs take any `R: rand::Rng`.

use rand::SeedableRng;

/// The generator used throughout the workspace.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A generator seeded with `seed`.
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Stream `stream` of the generator seeded with `seed`: independent of every other stream of the
/// same seed, and reproducible on its own.
pub fn stream(seed: u64, stream: u64) -> Rng {
    let mut rng = seeded(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u32> = (0..4).map(|_| stream(1, 5).random()).collect();
        let mut s = stream(1, 5);
        let b: Vec<u32> = (0..4).map(|_| s.random()).collect();
        let mut t = stream(1, 6);
        let c: Vec<u32> = (0..4).map(|_| t.random()).collect();
        assert_eq!(a[0], b[0]);
        assert_ne!(b, c);
    }
}
