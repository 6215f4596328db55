//! Fuzzes the IDX parser (plain and gzipped) and the image/label pairing of MNIST: never
//! panics; on success the element count matches the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::{idx_pair_dataset, parse_idx, Dataset, MNIST_CLASSES};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let (i, l) = (Path::new("images.idx"), Path::new("labels.idx"));
    if let Ok(a) = parse_idx(data, i) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
    // First byte picks a split point: images = data[1..1+k], labels = the rest.
    if let Some((&k, rest)) = data.split_first() {
        let k = (k as usize * rest.len()) / 255;
        let (a, b) = rest.split_at(k.min(rest.len()));
        if let (Ok(img), Ok(lab)) = (parse_idx(a, i), parse_idx(b, l)) {
            if let Ok(ds) = idx_pair_dataset(img, lab, i, l, &MNIST_CLASSES) {
                for idx in 0..ds.len().min(4) {
                    let s = ds.get(idx).unwrap();
                    assert!(s.label < 10 && s.image.iter().all(|v| (0.0..=1.0).contains(v)));
                }
            }
        }
    }
});
