//! The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, accurate to f64 rounding.
//!
//! Rust's standard library has no `erf`, and the popular Abramowitz–Stegun 7.1.26 formula is
//! accurate only to 1.5·10⁻⁷ absolute (≈ 1 f32 ulp near 1, but far worse in relative terms near
//! 0), too coarse to match PyTorch's exact GELU to f32 rounding. This is an implementation of
//! W. J. Cody's rational Chebyshev approximations (W. J. Cody, "Rational Chebyshev approximations
//! for the error function", Math. Comp. 23 (1969) 631–637; the coefficients are those of Cody's
//! CALERF in netlib's SPECFUN), evaluated in f64: relative error below 10⁻¹⁵ for erf and erfc on
//! the whole real line, so the f32 result [`erf`] is correctly rounded in practice.
//!
//! Three intervals of |x|:
//! * |x| ≤ 0.46875: erf(x) = x·P₄(x²)/Q₄(x²);
//! * 0.46875 < |x| ≤ 4: erfc(|x|) = e^(−x²)·P₈(|x|)/Q₈(|x|);
//! * |x| > 4: erfc(|x|) = e^(−x²)/|x| · (1/√π − z·P₅(z)/Q₅(z)), z = 1/x².
//!
//! e^(−x²) is evaluated as e^(−t²)·e^(−(|x|−t)(|x|+t)) with t = |x| rounded down to a multiple of
//! 1/16, which avoids the cancellation in x² for large |x|.

// The coefficients are kept exactly as Cody published them (18 significant digits).
#![allow(clippy::excessive_precision)]

const A: [f64; 5] = [
    3.161_123_743_870_565_6,
    1.138_641_541_510_501_56e2,
    3.774_852_376_853_020_21e2,
    3.209_377_589_138_469_47e3,
    1.857_777_061_846_031_53e-1,
];
const B: [f64; 4] = [
    2.360_129_095_234_412_09e1,
    2.440_246_379_344_441_73e2,
    1.282_616_526_077_372_28e3,
    2.844_236_833_439_170_62e3,
];
const C: [f64; 9] = [
    5.641_884_969_886_700_89e-1,
    8.883_149_794_388_375_94,
    6.611_919_063_714_162_95e1,
    2.986_351_381_974_001_31e2,
    8.819_522_212_417_690_90e2,
    1.712_047_612_634_070_58e3,
    2.051_078_377_826_071_47e3,
    1.230_339_354_797_997_25e3,
    2.153_115_354_744_038_46e-8,
];
const D: [f64; 8] = [
    1.574_492_611_070_983_47e1,
    1.176_939_508_913_124_99e2,
    5.371_811_018_620_098_58e2,
    1.621_389_574_566_690_19e3,
    3.290_799_235_733_459_63e3,
    4.362_619_090_143_247_16e3,
    3.439_367_674_143_721_64e3,
    1.230_339_354_803_749_42e3,
];
const P: [f64; 6] = [
    3.053_266_349_612_323_44e-1,
    3.603_448_999_498_044_39e-1,
    1.257_817_261_112_292_46e-1,
    1.608_378_514_874_227_66e-2,
    6.587_491_615_298_378_03e-4,
    1.631_538_713_730_209_78e-2,
];
const Q: [f64; 5] = [
    2.568_520_192_289_822_42,
    1.872_952_849_923_460_47,
    5.279_051_029_514_284_12e-1,
    6.051_834_131_244_131_91e-2,
    2.335_204_976_268_691_85e-3,
];
/// 1/√π.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_286_95;
/// Above this, erfc(x) underflows f64.
const ERFC_UNDERFLOW: f64 = 26.543;

/// e^(−y²) for y ≥ 0 without the rounding error of forming y² directly.
fn exp_neg_square(y: f64) -> f64 {
    let t = (y * 16.0).trunc() / 16.0;
    let del = (y - t) * (y + t);
    (-t * t).exp() * (-del).exp()
}

/// erfc(y) for y > 0.46875.
fn erfc_tail(y: f64) -> f64 {
    if y <= 4.0 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        exp_neg_square(y) * (num + C[7]) / (den + D[7])
    } else if y >= ERFC_UNDERFLOW {
        0.0
    } else {
        let z = 1.0 / (y * y);
        let mut num = P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        let r = (FRAC_1_SQRT_PI - z * (num + P[4]) / (den + Q[4])) / y;
        exp_neg_square(y) * r
    }
}

/// erf(x) for |x| ≤ 0.46875, as x·P(x²)/Q(x²).
fn erf_small(x: f64) -> f64 {
    let z = x * x;
    let mut num = A[4] * z;
    let mut den = z;
    for i in 0..3 {
        num = (num + A[i]) * z;
        den = (den + B[i]) * z;
    }
    x * (num + A[3]) / (den + B[3])
}

/// The error function in f64 (Cody's approximation; relative error < 10⁻¹⁵). `erf(±∞) = ±1`,
/// `erf(NaN) = NaN`.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    if y <= 0.46875 {
        return erf_small(x);
    }
    let r = (0.5 - erfc_tail(y)) + 0.5;
    if x < 0.0 { -r } else { r }
}

/// The complementary error function erfc(x) = 1 − erf(x) in f64, without cancellation for large x.
pub fn erfc_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    if y <= 0.46875 {
        return 1.0 - erf_small(x);
    }
    let t = erfc_tail(y);
    if x < 0.0 { 2.0 - t } else { t }
}

/// The error function of an `f32`, computed in f64 by [`erf_f64`] and rounded once.
pub fn erf(x: f32) -> f32 {
    erf_f64(x as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from Python's `math.erf` / `math.erfc` (correctly rounded libm).
    const ERF: &[(f64, f64)] = &[
        (0.0, 0.0),
        (1e-10, 1.1283791670955126e-10),
        (0.1, 0.1124629160182849),
        (0.46875, 0.49261347321793797),
        (0.5, 0.5204998778130465),
        (1.0, 0.8427007929497149),
        (2.0, 0.9953222650189527),
        (3.5, 0.9999992569016276),
        (4.0, 0.9999999845827421),
        (5.0, 0.9999999999984626),
        (-0.7, -0.6778011938374184),
    ];
    const ERFC: &[(f64, f64)] = &[
        (0.3, 0.6713732405408726),
        (1.5, 0.033894853524689274),
        (3.0, 2.2090496998585438e-05),
        (4.5, 1.9661604415428873e-10),
        (10.0, 2.088487583762545e-45),
        (-1.0, 1.842700792949715),
    ];

    #[test]
    fn matches_reference_values() {
        for &(x, want) in ERF {
            let got = erf_f64(x);
            assert!(
                (got - want).abs() <= 4e-16 * want.abs(),
                "erf({x}) = {got:e}, want {want:e}"
            );
        }
        for &(x, want) in ERFC {
            let got = erfc_f64(x);
            assert!(
                (got - want).abs() <= 1e-14 * want.abs(),
                "erfc({x}) = {got:e}, want {want:e}"
            );
        }
    }

    #[test]
    fn limits_and_symmetry() {
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
        assert!(erf(f32::NAN).is_nan());
        assert_eq!(erfc_f64(30.0), 0.0);
        for i in 0..200 {
            let x = i as f64 * 0.037;
            assert_eq!(erf_f64(-x), -erf_f64(x));
            assert!((erf_f64(x) + erfc_f64(x) - 1.0).abs() < 1e-15);
        }
    }
}
