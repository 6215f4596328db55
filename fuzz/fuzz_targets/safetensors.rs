//! Fuzzes safetensors loading: model weights (`nn_core::checkpoint::from_bytes`, what `eval`,
//! `predict` and `[transfer] init_from` read) and training checkpoints
//! (`nn_train::checkpoint::Checkpoint::from_bytes`, what `train --resume` reads). Neither may
//! panic; weights that load write back to the same bytes' tensors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    if let Ok(tensors) = nn_core::checkpoint::from_bytes(data, path) {
        for (_, t) in &tensors {
            assert_eq!(t.len(), t.shape().iter().product::<usize>());
        }
        if let Ok(bytes) = nn_core::checkpoint::to_bytes(&tensors, None, path) {
            let back = nn_core::checkpoint::from_bytes(&bytes, path).expect("written bytes load");
            assert_eq!(back.len(), tensors.len());
        }
    }
    let _ = nn_train::checkpoint::Checkpoint::from_bytes(data, path);
});
