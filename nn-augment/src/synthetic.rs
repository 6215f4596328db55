//! A procedurally drawn, colourful test image (no files needed): sky gradient, sun, checkerboard
//! ground, an asymmetric red "F" (shows flips and rotations), a blue disc, a magenta triangle and a
//! thin dark grid (shows shear and lens distortion). Used by the grid example, docs and benches.

use ndarray::Array3;

/// A `3 × height × width` test image with values in `[0, 1]`.
pub fn test_image(height: usize, width: usize) -> Array3<f32> {
    let (hf, wf) = (height as f32, width as f32);
    Array3::from_shape_fn((3, height, width), |(c, y, x)| {
        let u = (x as f32 + 0.5) / wf;
        let v = (y as f32 + 0.5) / hf;
        // Sky and ground.
        let mut rgb = if v < 0.62 {
            let t = v / 0.62;
            [0.35 + 0.45 * t, 0.55 + 0.35 * t, 0.95 - 0.1 * t]
        } else {
            let cx = (u * 8.0).floor() as i32;
            let cy = ((v - 0.62) * 8.0 / 0.38 * 0.6).floor() as i32;
            if (cx + cy) % 2 == 0 {
                [0.2, 0.65, 0.25]
            } else {
                [0.85, 0.8, 0.3]
            }
        };
        // Sun (top right).
        let (dx, dy) = (u - 0.78, v - 0.2);
        let r = (dx * dx + dy * dy).sqrt();
        if r < 0.12 {
            rgb = [1.0, 0.85 - r * 2.0, 0.1];
        }
        // Blue disc (centre-right, on the horizon).
        let (dx, dy) = (u - 0.62, v - 0.55);
        if (dx * dx + dy * dy).sqrt() < 0.1 {
            rgb = [0.15, 0.25, 0.85];
        }
        // Magenta triangle (bottom right).
        let (tx, ty) = ((u - 0.72) / 0.22, (v - 0.7) / 0.25);
        if (0.0..1.0).contains(&ty) && tx.abs() < ty * 0.5 {
            rgb = [0.85, 0.15, 0.75];
        }
        // Red "F" (left): vertical bar + two arms to the right.
        let in_bar = (0.12..0.2).contains(&u) && (0.2..0.85).contains(&v);
        let top_arm = (0.12..0.42).contains(&u) && (0.2..0.28).contains(&v);
        let mid_arm = (0.12..0.34).contains(&u) && (0.47..0.55).contains(&v);
        if in_bar || top_arm || mid_arm {
            rgb = [0.9, 0.1, 0.1];
        }
        // Thin dark grid every 1/4 of the image (about one pixel wide).
        let gx = (u * 4.0).fract();
        let gy = (v * 4.0).fract();
        if gx < 4.0 / wf || gy < 4.0 / hf {
            rgb = [rgb[0] * 0.45, rgb[1] * 0.45, rgb[2] * 0.45];
        }
        rgb[c].clamp(0.0, 1.0)
    })
}
