//! Fuzzes image decoding of the image-folder data set (PNG/JPEG via the `image` crate, colour
//! conversion, CHW layout): never panics; on success the shape matches the colour mode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::{decode_image, ColorMode, ImageFolderConfig};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.png");
    let gray = data.len() % 2 == 0;
    let color = if gray { ColorMode::Gray } else { ColorMode::Rgb };
    // A 4 Mpx limit keeps executions fast (the default limit is PIL's 89 Mpx; the guard itself
    // is what is exercised).
    let config = ImageFolderConfig { color, max_pixels: 1 << 22, ..Default::default() };
    if let Ok(img) = decode_image(data, p, &config) {
        assert_eq!(img.shape()[0], if gray { 1 } else { 3 });
    }
});
