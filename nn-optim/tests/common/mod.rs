//! Helpers shared by the integration tests: the least-squares problem of the fixtures.

#![allow(dead_code)]

use ndarray::{Array2, ArrayD, IxDyn};
use serde_json::Value;

/// Reads a fixture file.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// A JSON array of numbers as `Vec<f32>`.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// L = 1/(2N) Σ‖X Wᵀ + b − Y‖² with X: N×d_in, W: d_out×d_in, b: d_out.
pub struct LeastSquares {
    pub x: Array2<f64>,
    pub y: Array2<f64>,
}

impl LeastSquares {
    pub fn from_fixture(p: &Value) -> Self {
        let (n, d_in, d_out) = (8, 4, 3);
        let x = Array2::from_shape_vec(
            (n, d_in),
            floats(&p["x"]).iter().map(|&v| v as f64).collect(),
        )
        .unwrap();
        let y = Array2::from_shape_vec(
            (n, d_out),
            floats(&p["y"]).iter().map(|&v| v as f64).collect(),
        )
        .unwrap();
        Self { x, y }
    }

    /// Loss and gradients (computed in f64, returned in f32).
    pub fn loss_grad(&self, w: &ArrayD<f32>, b: &ArrayD<f32>) -> (f32, ArrayD<f32>, ArrayD<f32>) {
        let n = self.x.nrows() as f64;
        let w64 = w
            .mapv(|v| v as f64)
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap();
        let b64 = b
            .mapv(|v| v as f64)
            .into_dimensionality::<ndarray::Ix1>()
            .unwrap();
        let r = self.x.dot(&w64.t()) + &b64 - &self.y;
        let loss = 0.5 * r.mapv(|v| v * v).sum() / n;
        let gw = r.t().dot(&self.x) / n;
        let gb = r.sum_axis(ndarray::Axis(0)) / n;
        (
            loss as f32,
            gw.mapv(|v| v as f32).into_dyn(),
            gb.mapv(|v| v as f32).into_dyn(),
        )
    }

    /// The same on a flat vector [W (row-major), b].
    pub fn flat(&self, v: &[f32]) -> (f32, Vec<f32>) {
        let w = ArrayD::from_shape_vec(IxDyn(&[3, 4]), v[..12].to_vec()).unwrap();
        let b = ArrayD::from_shape_vec(IxDyn(&[3]), v[12..].to_vec()).unwrap();
        let (l, gw, gb) = self.loss_grad(&w, &b);
        (l, gw.iter().chain(gb.iter()).copied().collect())
    }
}

/// Largest absolute difference.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
