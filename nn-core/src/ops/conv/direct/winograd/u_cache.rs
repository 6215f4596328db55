//! The forward pass's transformed kernels U = G g Gᵀ kept from one call to the next while the
//! kernels do not change: inference calls the same convolutions on chunk after chunk of a batch
//! (`crate::infer`), and each call would otherwise transform and pack the kernels again (for
//! F(7×7) at 64→64 channels U is 1.3 MB of strided stores, 13 % of a ResNet-20's inference on
//! chunks of 16 images @1×28×28).
//!
//! An entry is found by its contents, never by identity alone: the kernels (and the folded
//! BatchNorm's scale) of the call are compared bit for bit with the entry's copy, so an entry
//! can never be stale: weights that changed (a training step between two evaluations) miss and
//! are packed again. A hit returns exactly the bits `pack_u` would compute. Entries are dropped
//! least recently used first beyond [`CAPACITY`] bytes.

use std::sync::{Arc, Mutex};

use super::{Kind, Packing, pack_u};

/// The most bytes of U the cache keeps (the entries' copies of the kernels included).
pub(crate) const CAPACITY: usize = 64 << 20;

struct Entry {
    kind: Kind,
    cb: usize,
    dims: (usize, usize),
    w: Vec<f32>,
    scale: Option<Vec<f32>>,
    u: Arc<Vec<f32>>,
    used: u64,
}

impl Entry {
    fn bytes(&self) -> usize {
        4 * (self.u.len() + self.w.len() + self.scale.as_ref().map_or(0, Vec::len))
    }

    fn holds(
        &self,
        kind: Kind,
        cb: usize,
        dims: (usize, usize),
        w: &[f32],
        scale: Option<&[f32]>,
    ) -> bool {
        (self.kind, self.cb, self.dims) == (kind, cb, dims)
            && same_bits(&self.w, w)
            && match (&self.scale, scale) {
                (None, None) => true,
                (Some(a), Some(b)) => same_bits(a, b),
                _ => false,
            }
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    clock: u64,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    entries: Vec::new(),
    clock: 0,
});

/// `pack_u(kind, w, dims, cb, Packing::Forward, scale)`, from the cache when an entry holds the
/// same kernels and scale (see the module docs), else packed and kept.
pub(crate) fn forward_u(
    kind: Kind,
    w: &[f32],
    dims: (usize, usize),
    cb: usize,
    scale: Option<&[f32]>,
) -> Arc<Vec<f32>> {
    {
        let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        c.clock += 1;
        let now = c.clock;
        if let Some(e) = c
            .entries
            .iter_mut()
            .find(|e| e.holds(kind, cb, dims, w, scale))
        {
            e.used = now;
            return Arc::clone(&e.u);
        }
    }
    // Packed outside the lock (pack_u splits its work over the pool).
    let u = Arc::new(pack_u(kind, w, dims, cb, Packing::Forward, scale));
    let entry = Entry {
        kind,
        cb,
        dims,
        w: w.to_vec(),
        scale: scale.map(<[f32]>::to_vec),
        u: Arc::clone(&u),
        used: 0,
    };
    if entry.bytes() > CAPACITY {
        return u;
    }
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if c.entries.iter().any(|e| e.holds(kind, cb, dims, w, scale)) {
        // Another thread packed the same kernels meanwhile (the same bits).
        return u;
    }
    let mut total: usize = c.entries.iter().map(Entry::bytes).sum::<usize>() + entry.bytes();
    while total > CAPACITY {
        let oldest = (0..c.entries.len())
            .min_by_key(|&i| c.entries[i].used)
            .expect("entries while over capacity");
        total -= c.entries.swap_remove(oldest).bytes();
    }
    c.clock += 1;
    let used = c.clock;
    c.entries.push(Entry { used, ..entry });
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::direct::tests::values;

    /// A hit gives pack_u's bits; changed kernels or scale (one value, or the sign of a zero)
    /// miss and give the new kernels' bits.
    #[test]
    fn hits_give_pack_u_bits_and_changes_miss() {
        let (cout, cin) = (32, 16);
        let mut w = values(cout * cin * 9, 11);
        let scale = values(cout, 12);
        for kind in [Kind::F4, Kind::F7, Kind::F2] {
            let want = pack_u(kind, &w, (cout, cin), 2, Packing::Forward, Some(&scale));
            let first = forward_u(kind, &w, (cout, cin), 2, Some(&scale));
            let second = forward_u(kind, &w, (cout, cin), 2, Some(&scale));
            assert_eq!(*first, want);
            assert!(
                Arc::ptr_eq(&first, &second),
                "{kind:?}: the second call hits"
            );
            let unscaled = pack_u(kind, &w, (cout, cin), 2, Packing::Forward, None);
            assert_eq!(*forward_u(kind, &w, (cout, cin), 2, None), unscaled);
        }
        w[5] += 1.0;
        let want = pack_u(Kind::F4, &w, (cout, cin), 2, Packing::Forward, Some(&scale));
        assert_eq!(*forward_u(Kind::F4, &w, (cout, cin), 2, Some(&scale)), want);
        w[7] = 0.0;
        let plus = forward_u(Kind::F4, &w, (cout, cin), 2, None);
        w[7] = -0.0;
        let minus = forward_u(Kind::F4, &w, (cout, cin), 2, None);
        assert!(
            !Arc::ptr_eq(&plus, &minus),
            "-0.0 and 0.0 are different kernels"
        );
        assert_eq!(
            *minus,
            pack_u(Kind::F4, &w, (cout, cin), 2, Packing::Forward, None)
        );
    }
}
