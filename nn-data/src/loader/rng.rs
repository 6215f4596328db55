//! The loader's random streams. Every draw is a pure function of `(seed, epoch, what)`:
//!
//! * the epoch's sample order: [`shuffle_rng`]`(seed, epoch)`;
//! * the transform of the sample at position `p` of the epoch: [`sample_rng`]`(seed, epoch, p)`;
//! * the batch hook of batch `b`: [`batch_rng`]`(seed, epoch, b)`.
//!
//! Each is a `ChaCha8Rng` keyed by `(seed, epoch, domain)` with ChaCha's stream set to the
//! position (or batch) number — independent streams, so no draw depends on which thread runs it.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

const SAMPLES: u64 = 0;
const BATCHES: u64 = 1;
const SHUFFLE: u64 = 2;

fn keyed(seed: u64, epoch: u64, domain: u64, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&domain.to_le_bytes());
    key[24..].copy_from_slice(b"nn-data\0");
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(stream);
    rng
}

/// The generator of the sample at `position` (0-based, in epoch order) of `epoch`.
pub fn sample_rng(seed: u64, epoch: u64, position: u64) -> ChaCha8Rng {
    keyed(seed, epoch, SAMPLES, position)
}

/// The generator of batch `batch` of `epoch` (for the per-batch hook).
pub fn batch_rng(seed: u64, epoch: u64, batch: u64) -> ChaCha8Rng {
    keyed(seed, epoch, BATCHES, batch)
}

/// The generator of `epoch`'s shuffle.
pub fn shuffle_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    keyed(seed, epoch, SHUFFLE, 0)
}

/// A uniformly random permutation of `0..len` for `(seed, epoch)` (Fisher–Yates).
pub fn shuffled_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut shuffle_rng(seed, epoch));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_distinct_and_reproducible() {
        let draw = |mut r: ChaCha8Rng| r.random::<u64>();
        assert_eq!(draw(sample_rng(1, 2, 3)), draw(sample_rng(1, 2, 3)));
        let all = [
            draw(sample_rng(1, 2, 3)),
            draw(sample_rng(1, 2, 4)),
            draw(sample_rng(1, 3, 3)),
            draw(sample_rng(2, 2, 3)),
            draw(batch_rng(1, 2, 3)),
            draw(shuffle_rng(1, 2)),
        ];
        for i in 0..all.len() {
            for j in 0..i {
                assert_ne!(all[i], all[j]);
            }
        }
        let o = shuffled_order(100, 7, 0);
        assert_ne!(o, shuffled_order(100, 7, 1));
        let mut s = o.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
