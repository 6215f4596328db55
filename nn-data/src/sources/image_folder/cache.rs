//! [`ImageCache`]: a bounded cache of decoded images, for image folders that do not fit in
//! memory.
//!
//! Policy: the first images decoded are kept until the byte budget is spent; nothing is ever
//! evicted. With a shuffled order every epoch, any eviction policy (LRU, random) hits at the
//! same expected rate (budget / data-set size) once the cache is full, so keeping a fixed
//! subset costs no hits and never churns memory; when the whole set fits, every image is
//! decoded once. The cache only decides what is decoded again: loaded values are the same with
//! or without it.

use ndarray::Array3;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Decoded images by index, up to a budget of bytes.
#[derive(Debug)]
pub struct ImageCache {
    slots: Vec<OnceLock<Arc<Array3<u8>>>>,
    used: AtomicU64,
    budget: u64,
}

impl ImageCache {
    /// A cache for `len` images holding at most `budget` bytes of pixels.
    pub fn new(len: usize, budget: u64) -> ImageCache {
        ImageCache {
            slots: (0..len).map(|_| OnceLock::new()).collect(),
            used: AtomicU64::new(0),
            budget,
        }
    }

    /// The cached image `index`, if any.
    pub fn get(&self, index: usize) -> Option<Arc<Array3<u8>>> {
        self.slots.get(index)?.get().cloned()
    }

    /// Keeps `image` as image `index` if the budget allows (and it is not cached yet).
    pub fn offer(&self, index: usize, image: &Array3<u8>) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        if slot.get().is_some() {
            return;
        }
        let size = image.len() as u64;
        let reserved = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + size <= self.budget).then_some(u + size)
            })
            .is_ok();
        if reserved && slot.set(Arc::new(image.clone())).is_err() {
            // Another thread cached it first: give the reservation back.
            self.used.fetch_sub(size, Ordering::AcqRel);
        }
    }

    /// Bytes of pixels held.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.budget
    }

    /// Number of images held.
    pub fn cached(&self) -> usize {
        self.slots.iter().filter(|s| s.get().is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_images_until_the_budget_is_spent() {
        let cache = ImageCache::new(4, 25);
        let img = Array3::<u8>::from_elem((1, 3, 4), 7); // 12 bytes
        cache.offer(0, &img);
        cache.offer(0, &img); // already there: no double count
        cache.offer(1, &img);
        cache.offer(2, &img); // 36 > 25: refused
        cache.offer(9, &img); // out of range: ignored
        assert_eq!(cache.cached(), 2);
        assert_eq!(cache.used_bytes(), 24);
        assert_eq!(*cache.get(1).unwrap(), img);
        assert!(cache.get(2).is_none());
    }
}
