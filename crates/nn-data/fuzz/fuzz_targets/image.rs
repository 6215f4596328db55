//! Fuzzes image decoding of the image-folder data set (PNG/JPEG via the `image` crate, colour
//! conversion, CHW layout): never panics; on success the shape matches the colour mode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::{decode_image, ColorMode};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.png");
    let gray = data.len() % 2 == 0;
    let color = if gray { ColorMode::Gray } else { ColorMode::Rgb };
    if let Ok(img) = decode_image(data, p, color, None) {
        assert_eq!(img.shape()[0], if gray { 1 } else { 3 });
    }
});
