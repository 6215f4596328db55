//! The channels-last direct convolution against a naive reference, on every instruction set the
//! CPU has. The values are small integers, so every sum is exact and each instruction set must
//! give the reference exactly (except Winograd F(4×4, 3×3), whose transforms hold sixths and
//! 24ths: within 10⁻⁵ of the largest output, and F(7×7, 3×3): within 10⁻⁴; with general values the order of additions, which can differ
//! between instruction sets, changes the last bits; see `crate::simd`). Integers cannot show a
//! change of bits, so the kernels that read the unpadded image are also compared bit for bit,
//! on general values, with the same kernels on zero-padded copies.

use proptest::prelude::*;

use super::pack::pad_nhwc;
use super::{Algo, backward_with, forward_with, grad, winograd};
use crate::ops::conv::geometry::{Conv2dOptions, Geom};
use crate::simd::Isa;

fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|i| i.is_supported())
        .collect()
}

pub(in crate::ops::conv) fn values(len: usize, seed: u64) -> Vec<f32> {
    // Small integers make every sum exact, so results compare with ==.
    (0..len)
        .map(|i| (((i as u64 * 2654435761 + seed * 97) >> 7) % 7) as f32 - 3.0)
        .collect()
}

/// Naive channels-last convolution: y, and the gradients of Σ y·dy.
#[allow(clippy::type_complexity)]
pub(in crate::ops::conv) fn naive(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut y = vec![0.0; g.n * g.oh * g.ow * g.cout];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; g.cout];
    for n in 0..g.n {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for o in 0..g.cout {
                    let yi = ((n * g.oh + oy) * g.ow + ox) * g.cout + o;
                    let mut s = bias.map_or(0.0, |b| b[o]);
                    db[o] += dy[yi];
                    for i in 0..g.kh {
                        for j in 0..g.kw {
                            let iy = (oy * g.sh + i * g.dh) as isize - g.ph as isize;
                            let ix = (ox * g.sw + j * g.dw) as isize - g.pw as isize;
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            for c in 0..g.cin {
                                let xi = ((n * g.h + iy as usize) * g.w + ix as usize) * g.cin + c;
                                let wi = ((o * g.cin + c) * g.kh + i) * g.kw + j;
                                s += w[wi] * x[xi];
                                dx[xi] += w[wi] * dy[yi];
                                dw[wi] += x[xi] * dy[yi];
                            }
                        }
                    }
                    y[yi] = s;
                }
            }
        }
    }
    (y, dx, dw, db)
}

fn check(g: &Geom, with_bias: bool) {
    let x = values(g.n * g.h * g.w * g.cin, 1);
    let w = values(g.cout * g.cin * g.kh * g.kw, 2);
    let b = values(g.cout, 3);
    let dy = values(g.n * g.oh * g.ow * g.cout, 4);
    let bias = with_bias.then_some(&b[..]);
    let (y, dx, dw, db) = naive(g, &x, &w, bias, &dy);
    let mut algos = vec![Algo::Direct];
    if winograd::applies(g) {
        algos.push(Algo::Winograd);
    }
    // Small integers and F(2×2, 3×3)'s halves are exact in f32: the direct kernels, F(2×2)
    // and its stride-2 form (the gradients' at stride 2) must give the reference exactly on
    // every instruction set, F(4×4) and its stride-2 form (the forward's; sixths) to their
    // rounding.
    let kinds = [(g.oh, g.ow), (g.h, g.w)].map(|o| winograd::tile_kind(1, o));
    let f2_bwd = g.sh == 2 || kinds == [winograd::Kind::F2; 2];
    let f2_fwd = g.sh == 1 && kinds == [winograd::Kind::F2; 2];
    // F(7×7)'s transforms hold ninths and 144ths of values up to 6.6 and powers of 2 up to 64:
    // about 10x F(4×4)'s rounding.
    let rel = if g.sh == 1 && kinds.contains(&winograd::Kind::F7) {
        1e-4
    } else {
        1e-5
    };
    for isa in isas() {
        for &algo in &algos {
            let (exact_fwd, exact_bwd) = (
                algo == Algo::Direct || f2_fwd,
                algo == Algo::Direct || f2_bwd,
            );
            let same = |got: &[f32], want: &[f32], what: &str, exact: bool| {
                let what = format!("{what} {isa:?} {algo:?} {g:?}");
                if exact {
                    assert_eq!(got, want, "{what}");
                } else {
                    assert_near(got, want, rel, &what);
                }
            };
            let y_got = forward_with(isa, algo, g, &x, &w, None, bias, false);
            same(&y_got, &y, "forward", exact_fwd);
            let relu = forward_with(isa, algo, g, &x, &w, None, bias, true);
            let want: Vec<f32> = y.iter().map(|&v| v.max(0.0)).collect();
            same(&relu, &want, "forward + relu", exact_fwd);
            let r = backward_with(isa, algo, g, &x, &w, &dy, (true, true, with_bias));
            same(&r.dx.unwrap(), &dx, "input gradient", exact_bwd);
            same(&r.dw.unwrap(), &dw, "weight gradient", exact_bwd);
            if with_bias {
                assert_eq!(r.db.unwrap(), db, "bias gradient {isa:?}");
            }
        }
    }
}

fn geom(
    n: usize,
    cin: usize,
    hw: (usize, usize),
    cout: usize,
    k: (usize, usize),
    o: Conv2dOptions,
) -> Geom {
    Geom::new(&[n, cin, hw.0, hw.1], &[cout, cin, k.0, k.1], &o)
}

/// The wide 3×3 shapes that keep Winograd instead of the NHWC GEMM
/// (`nhwc_gemm::keeps_winograd`): 128 channels on a 7×7 map (the CNN recipe's last stage) and
/// 256 on 4×4.
#[test]
fn wide_winograd_shapes() {
    let p1 = Conv2dOptions::default().with_padding(1);
    check(&geom(1, 128, (7, 7), 128, (3, 3), p1), false);
    check(&geom(1, 256, (4, 4), 256, (3, 3), p1), true);
}

#[test]
fn resnet_shapes() {
    let o3 = Conv2dOptions::default().with_padding(1);
    // Batch 2 at small maps, then batch 1 at the recipe's maps (Fashion-MNIST, 28² → 14² → 7²):
    // rows longer than a register block, the 7×7- and 4×4-tile Winograd grids, odd maps under
    // stride 2.
    for (n, cin, cout, hw, stride, k) in [
        (2, 3, 16, 8, 1, 3),
        (2, 16, 16, 8, 1, 3),
        (2, 16, 32, 8, 2, 3),
        (2, 16, 32, 8, 2, 1),
        (2, 32, 64, 6, 2, 3),
        (2, 64, 64, 4, 1, 3),
        // Strided with input channels not a multiple of 16: the scatter buffer's pixels are
        // padded to 16 channels, so its input gradient is copied out pixel by pixel (the
        // unpadded 1×1 ones with 16k channels scatter into the input gradient in place).
        (2, 5, 16, 7, 2, 3),
        (2, 24, 32, 7, 2, 3),
        (2, 5, 16, 7, 2, 1),
        (1, 1, 16, 28, 1, 3),
        (1, 16, 16, 28, 1, 3),
        (1, 16, 32, 28, 2, 3),
        (1, 16, 32, 28, 2, 1),
        (1, 32, 32, 14, 1, 3),
        (1, 32, 64, 14, 2, 3),
        (1, 32, 64, 14, 2, 1),
        (1, 64, 64, 7, 1, 3),
    ] {
        let o = if k == 1 {
            Conv2dOptions::default().with_stride(stride)
        } else {
            o3.with_stride(stride)
        };
        check(&geom(n, cin, (hw, hw), cout, (k, k), o), false);
    }
}

#[test]
fn winograd_shapes_odd_sizes_and_padding() {
    for (hw, pad) in [
        ((8, 8), 1),
        ((7, 5), 1),
        ((5, 9), 0),
        ((6, 3), 2),
        ((1, 1), 1),
    ] {
        let o = Conv2dOptions::default().with_padding(pad);
        check(&geom(2, 16, hw, 32, (3, 3), o), true);
        // Stride 2 (in phases): odd and even maps, every padding, partial tiles.
        check(&geom(2, 16, hw, 32, (3, 3), o.with_stride(2)), true);
    }
    // Several blocks of tiles and a partial last one (5 × 6 tiles); the rule picks Winograd
    // from 16 channels in and out on every instruction set.
    let o = Conv2dOptions::default().with_padding(1);
    let g = geom(2, 32, (9, 11), 32, (3, 3), o);
    assert_eq!(super::algo_for(Isa::Avx512, &g), Algo::Winograd);
    check(&g, true);
    let g16 = geom(1, 16, (8, 8), 32, (3, 3), o);
    assert_eq!(super::algo_for(Isa::Avx512, &g16), Algo::Winograd);
    assert_eq!(super::algo_for(Isa::Avx2, &g16), Algo::Winograd);
    check(&g16, true);
    for isa in [Isa::Avx512, Isa::Avx2] {
        let g8 = geom(1, 8, (8, 8), 32, (3, 3), o);
        assert_eq!(super::algo_for(isa, &g8), Algo::Direct);
    }
    // Stride 2: Winograd in phases forward everywhere, backward on AVX2 only (the direct
    // weight gradient is faster on AVX-512) and from 32 channels.
    let s2 = geom(1, 32, (16, 16), 64, (3, 3), o.with_stride(2));
    for isa in [Isa::Avx512, Isa::Avx2] {
        assert_eq!(super::algo_for(isa, &s2), Algo::Winograd);
        // 16 channels: Winograd forward only where 4×4 tiles cover the output (8×8, not 7×7).
        let s16 = geom(1, 16, (16, 16), 32, (3, 3), o.with_stride(2));
        assert_eq!(super::algo_for(isa, &s16), Algo::Winograd);
        assert_eq!(super::backward_algo_for(isa, &s16), Algo::Direct);
        let s16_odd = geom(1, 16, (14, 14), 32, (3, 3), o.with_stride(2));
        assert_eq!(super::algo_for(isa, &s16_odd), Algo::Direct);
        // Stride 1 takes the same algorithm both ways.
        assert_eq!(super::backward_algo_for(isa, &g), super::algo_for(isa, &g));
    }
    assert_eq!(super::backward_algo_for(Isa::Avx2, &s2), Algo::Winograd);
    assert_eq!(super::backward_algo_for(Isa::Avx512, &s2), Algo::Direct);
    check(
        &geom(
            1,
            48,
            (6, 6),
            16,
            (3, 3),
            Conv2dOptions::default().with_padding(1),
        ),
        false,
    );
}

#[test]
fn channel_tails_bias_and_odd_sizes() {
    let o = Conv2dOptions::default().with_padding(1);
    check(&geom(3, 5, (7, 9), 17, (3, 3), o), true);
    check(&geom(1, 33, (5, 19), 40, (3, 3), o.with_stride(2)), true);
    check(
        &geom(2, 2, (6, 5), 3, (1, 1), Conv2dOptions::default()),
        true,
    );
    // Unpadded: read in place, the last row and column beyond the kernel's reach.
    let s2 = Conv2dOptions::default().with_stride(2);
    check(&geom(2, 16, (8, 9), 32, (3, 3), s2), true);
    check(&geom(2, 32, (9, 8), 64, (1, 1), s2), false);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn matches_the_reference(
        n in 1usize..3, cin in 1usize..20, cout in 1usize..40,
        h in 1usize..11, w in 1usize..11, kh in 1usize..4, kw in 1usize..4,
        sh in 1usize..3, sw in 1usize..3, ph in 0usize..3, pw in 0usize..3,
        dh in 1usize..3, dw in 1usize..3, bias in any::<bool>(),
    ) {
        let o = Conv2dOptions { stride: (sh, sw), padding: (ph, pw), dilation: (dh, dw), groups: 1 };
        let fits = |inp: usize, k: usize, p: usize, d: usize| inp + 2 * p > d * (k - 1);
        prop_assume!(fits(h, kh, ph, dh) && fits(w, kw, pw, dw));
        check(&geom(n, cin, (h, w), cout, (kh, kw), o), bias);
    }
}

/// Few input channels (a network's stem): the weight gradient by whole kernel rows, for every
/// register block it has (1, 2 or 3 channels with a 3-wide kernel, 4 channels, 1 or 2 channel
/// blocks of output), odd sizes, strides, padding, tall kernels and partial channel blocks.
#[test]
fn stems_by_kernel_rows() {
    let o = Conv2dOptions::default().with_padding(1);
    for (cin, cout, hw, k, o) in [
        (3, 16, (9, 7), (3, 3), o),
        (1, 16, (7, 6), (3, 3), o),
        (2, 16, (5, 6), (3, 3), o.with_stride(2)),
        (3, 16, (6, 5), (2, 3), o),
        (1, 32, (5, 5), (3, 3), Conv2dOptions::default()),
        (3, 32, (6, 7), (3, 3), o.with_stride(2)),
        (2, 32, (5, 4), (1, 3), o),
        (1, 64, (5, 3), (3, 3), o),
        (2, 64, (4, 5), (3, 3), o),
        (4, 16, (5, 5), (3, 3), o),
        (3, 17, (5, 6), (6, 3), o.with_padding(2)),
        (1, 40, (6, 5), (3, 3), o.with_stride(2)),
        (3, 64, (5, 5), (3, 3), o),
    ] {
        check(&geom(2, cin, hw, cout, k, o), cout == 17);
    }
    // Dilated kernels keep the tap-by-tap blocks.
    check(&geom(1, 3, (7, 7), 16, (3, 3), o.with_dilation(2)), false);
}

/// Standard normal values: unlike small integers, a change in the order or rounding of any sum
/// shows in the bits.
fn randn(len: usize, seed: u64) -> Vec<f32> {
    crate::Tensor::randn(&[len], 0.0, 1.0, &mut crate::rng::seeded(seed)).to_vec()
}

/// Panics at the first element further than `rel` times the largest |want| from `want`.
fn assert_near(got: &[f32], want: &[f32], rel: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    if let Some(i) = (0..got.len()).find(|&i| (got[i] - want[i]).abs() > rel * scale) {
        panic!(
            "{what}: element {i} is {} against {} (scale {scale})",
            got[i], want[i]
        );
    }
}

/// Panics at the first element whose bits differ.
fn assert_same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i} is {} against {}", got[i], want[i]);
    }
}

/// The kernels that read the unpadded image (the Winograd tiles of the forward pass and of both
/// gradients, the direct forward tap by tap from 16 input channels with zeros for the padding's
/// taps, the direct weight gradient's clamped taps) give the same bits as the same kernels
/// on a zero-padded copy with padding 0 (for the Winograd input gradient: on a padded copy of
/// dy), which is the arithmetic of the copies they replace. General values, every instruction
/// set, both algorithms where Winograd applies: the ResNet-20 shapes at 28² (including stride 2
/// and the 1-channel stem, which keeps its copy), Winograd at paddings 0 and 2, and odd maps.
#[test]
fn unpadded_reads_match_padded_copies_bitwise() {
    let o = |pad: usize, stride: usize| {
        Conv2dOptions::default()
            .with_padding(pad)
            .with_stride(stride)
    };
    for (n, cin, cout, hw, o) in [
        (1, 1, 16, 28, o(1, 1)),
        (1, 16, 16, 28, o(1, 1)),
        (2, 32, 32, 14, o(1, 1)),
        (2, 64, 64, 7, o(1, 1)),
        (1, 16, 32, 28, o(1, 2)),
        (2, 32, 64, 14, o(1, 2)),
        (2, 32, 32, 14, o(0, 1)),
        (2, 64, 64, 7, o(2, 1)),
        (2, 16, 32, 9, o(2, 1)),
        (2, 32, 16, 11, o(1, 1)),
    ] {
        let g = geom(n, cin, (hw, hw), cout, (3, 3), o);
        let p = g.ph;
        let gp = geom(
            n,
            cin,
            (hw + 2 * p, hw + 2 * p),
            cout,
            (3, 3),
            o.with_padding(0),
        );
        assert_eq!((gp.oh, gp.ow), (g.oh, g.ow));
        let x = randn(n * hw * hw * cin, 1);
        let w = randn(cout * cin * 9, 2);
        let b = randn(cout, 3);
        let dy = randn(n * g.p() * cout, 4);
        let (xs, xps) = (g.hw() * cin, gp.hw() * cin);
        let mut xp = vec![0.0f32; n * xps];
        for (x_n, xp_n) in x.chunks(xs).zip(xp.chunks_mut(xps)) {
            let top = p as isize;
            pad_nhwc(x_n, (hw, hw, cin), xp_n, (gp.h, gp.w), (top, top));
        }
        let mut algos = vec![Algo::Direct];
        if winograd::applies(&g) {
            algos.push(Algo::Winograd);
        }
        for isa in isas() {
            for &algo in &algos {
                let what = format!("{isa:?} {algo:?} {g:?}");
                let y = forward_with(isa, algo, &g, &x, &w, None, Some(&b), false);
                let yp = forward_with(isa, algo, &gp, &xp, &w, None, Some(&b), false);
                assert_same_bits(&y, &yp, &format!("forward {what}"));
                let need = (false, true, false);
                let dw = backward_with(isa, algo, &g, &x, &w, &dy, need).dw.unwrap();
                let dwp = backward_with(isa, algo, &gp, &xp, &w, &dy, need)
                    .dw
                    .unwrap();
                assert_same_bits(&dw, &dwp, &format!("weight gradient {what}"));
                if algo == Algo::Winograd && g.sh == 1 {
                    let need = (true, false, false);
                    let dx = backward_with(isa, algo, &g, &x, &w, &dy, need).dx.unwrap();
                    let dxp = grad::winograd_input_grad_padded(isa, &g, &w, &dy);
                    assert_same_bits(&dx, &dxp, &format!("input gradient {what}"));
                }
            }
        }
    }
}

/// Winograd's forward gives the same bits whatever the number of tiles per block (AVX-512 runs
/// blocks of 8, AVX2 blocks of 6): each tile's products sum over the input channels in the same
/// order in any register block. On general values F(4×4) and F(2×2) agree to F(4×4)'s rounding;
/// the stride-2 form is checked on the stride-2 output of the same image.
#[test]
fn winograd_forward_bits_do_not_depend_on_the_tiles_per_block() {
    use super::forward::Epilogue;
    let (cin, cout, (h, w)) = (32, 32, (9, 11));
    let x = randn(h * w * cin, 3);
    let wt = randn(cout * cin * 9, 4);
    let bias = randn(cout, 5);
    for (isa, cb) in isas().into_iter().flat_map(|i| [(i, 1), (i, 2)]) {
        let run = |kind: winograd::Kind, tiles: usize| {
            let u = winograd::pack_u(kind, &wt, (cout, cin), cb, winograd::Packing::Forward, None);
            let s = kind.stride();
            let (oh, ow) = ((h - 1) / s + 1, (w - 1) / s + 1);
            let wg = winograd::Wino::new(kind, (oh, ow), (cin, cout), cb, (h, w), (1, 1))
                .with_tiles(tiles);
            let mut y = vec![f32::NAN; oh * ow * cout];
            let mut scratch = vec![0.0; wg.scratch()];
            let epi = Epilogue {
                bias: Some(&bias),
                relu: true,
            };
            super::wino_forward(isa, &wg, &x, &u, epi, &mut y, &mut scratch);
            y
        };
        use winograd::Kind;
        for kind in [Kind::F2, Kind::F4, Kind::F7, Kind::S2, Kind::S4] {
            let want = run(kind, winograd::TILES);
            for tiles in [1, 2, 5, 6, 7, 13] {
                let what = format!("{isa:?}, {kind:?}, cb {cb}, {tiles} tiles per block");
                assert_same_bits(&run(kind, tiles), &want, &what);
            }
        }
        let what = format!("{isa:?}, cb {cb}: F(4×4) against F(2×2)");
        assert_near(&run(Kind::F4, 6), &run(Kind::F2, 6), 1e-5, &what);
        let what = format!("{isa:?}, cb {cb}: F(7×7) against F(2×2)");
        assert_near(&run(Kind::F7, 6), &run(Kind::F2, 6), 1e-4, &what);
    }
}

/// Calls on several images at a time (`Wino::images`, blocks of tiles across images) give each
/// image the bits it gets alone: F(7×7) on 7×7 maps (one tile per image, 8 images per block),
/// F(4×4) on 6×6 maps (4 tiles), F(2×2) on 3×5 maps; 11 images, so the last call is partial.
#[test]
fn winograd_groups_of_images_match_single_images_bitwise() {
    use super::forward::Epilogue;
    use winograd::Kind;
    let (cin, cout, n) = (32, 48, 11);
    for (kind, (h, w)) in [(Kind::F7, (7, 7)), (Kind::F4, (6, 6)), (Kind::F2, (3, 5))] {
        let x = randn(n * h * w * cin, 6);
        let wt = randn(cout * cin * 9, 7);
        let (xs, ys) = (h * w * cin, h * w * cout);
        for isa in isas() {
            let u = winograd::pack_u(kind, &wt, (cout, cin), 1, winograd::Packing::Forward, None);
            let wg = winograd::Wino::new(kind, (h, w), (cin, cout), 1, (h, w), (1, 1));
            let epi = Epilogue {
                bias: None,
                relu: false,
            };
            let mut scratch = vec![0.0; wg.scratch()];
            let mut one = vec![f32::NAN; n * ys];
            for (k, y) in one.chunks_mut(ys).enumerate() {
                super::wino_forward(isa, &wg, &x[k * xs..(k + 1) * xs], &u, epi, y, &mut scratch);
            }
            let group = wg.group();
            assert!(
                group > 1 || kind == Kind::F2,
                "{kind:?}: {group} images per call"
            );
            let mut grouped = vec![f32::NAN; n * ys];
            for (k, y) in grouped.chunks_mut(group * ys).enumerate() {
                let imgs = y.len() / ys;
                let xg = &x[k * group * xs..(k * group + imgs) * xs];
                super::wino_forward(isa, &wg.with_images(imgs), xg, &u, epi, y, &mut scratch);
            }
            assert_same_bits(&grouped, &one, &format!("{isa:?} {kind:?}"));
        }
    }
}

/// Register blocks that run on from the end of one output row into the next (short rows, see
/// `blocks::Blocks`) give each pixel the bits it gets in a block of its own row: the forward pass
/// of a whole image equals, bit for bit, the forward passes of its output rows one at a time
/// (each a 1-row image, which is cut into row blocks). General values, every instruction set,
/// the direct kernels: 3×3 stride 2 on 8- and 7-pixel rows, a 1×1 projection, a 5-channel
/// stem, and a channel tail.
#[test]
fn blocks_across_rows_match_row_blocks_bitwise() {
    let s = |stride: usize| Conv2dOptions::default().with_stride(stride);
    for (cin, cout, (h, w), k, o) in [
        (32, 64, (17, 17), 3, s(2)),
        (16, 32, (15, 15), 3, s(2)),
        (32, 64, (16, 16), 1, s(2)),
        (5, 16, (10, 10), 3, s(1)),
        (20, 40, (9, 11), 3, s(2)),
    ] {
        let g = geom(2, cin, (h, w), cout, (k, k), o);
        let x = randn(2 * h * w * cin, 1);
        let wt = randn(cout * cin * k * k, 2);
        let b = randn(cout, 3);
        // Output row oy reads input rows oy·s .. oy·s + k (no padding).
        let rows = geom(1, cin, (k, w), cout, (k, k), o);
        assert_eq!(rows.ow, g.ow);
        for isa in isas() {
            let y = forward_with(isa, Algo::Direct, &g, &x, &wt, None, Some(&b), true);
            for n in 0..2 {
                for oy in 0..g.oh {
                    let x0 = (n * h + oy * g.sh) * w * cin;
                    let xr = &x[x0..x0 + k * w * cin];
                    let yr = forward_with(isa, Algo::Direct, &rows, xr, &wt, None, Some(&b), true);
                    let y0 = (n * g.oh + oy) * g.ow * cout;
                    let what = format!("{isa:?} {g:?}, image {n}, row {oy}");
                    assert_same_bits(&y[y0..y0 + g.ow * cout], &yr, &what);
                }
            }
        }
    }
}

/// The direct weight gradient sums its taps over groups of images (`grad::weight_images`: 4 on
/// AVX-512) within the batch's slices: batches whose slices hold 2, 3 and 5 images (groups of
/// 4 and a remainder), the stride-2 shapes (the input gradient scattered in place), a 1×1
/// projection and an unpadded few-channel convolution (the kernel-row blocks, image by image)
/// give the reference exactly; and the same bits on 1 thread as on 3 with general values.
#[test]
fn weight_gradient_over_groups_of_images() {
    let p1 = Conv2dOptions::default().with_padding(1);
    let s2 = Conv2dOptions::default().with_stride(2);
    check(&geom(40, 16, (6, 6), 32, (3, 3), p1.with_stride(2)), false);
    check(&geom(21, 32, (5, 6), 64, (3, 3), p1.with_stride(2)), true);
    check(&geom(21, 32, (6, 6), 64, (1, 1), s2), false);
    check(
        &geom(21, 3, (6, 6), 16, (3, 3), Conv2dOptions::default()),
        false,
    );
    let g = geom(40, 32, (8, 8), 64, (3, 3), p1.with_stride(2));
    let x = randn(g.n * g.h * g.w * g.cin, 1);
    let w = randn(g.cout * g.cin * 9, 2);
    let dy = randn(g.n * g.oh * g.ow * g.cout, 3);
    let run = |threads: usize| {
        crate::workers::on_threads(threads, || {
            let r = backward_with(
                Isa::detect(),
                Algo::Direct,
                &g,
                &x,
                &w,
                &dy,
                (true, true, false),
            );
            (r.dx.unwrap(), r.dw.unwrap())
        })
    };
    let (one, three) = (run(1), run(3));
    assert_same_bits(&three.0, &one.0, "input gradient");
    assert_same_bits(&three.1, &one.1, "weight gradient");
}

/// The Winograd path's parallel parts (the weight transform `pack_u`, the partial weight
/// gradients' sum, dW = Gᵀ dU G) give the same bits on 1 thread as on 3: forward, input and
/// weight gradient of 32→32 and 64→32 3×3 convolutions, general values.
#[test]
fn winograd_bits_do_not_depend_on_the_thread_count() {
    let p1 = Conv2dOptions::default().with_padding(1);
    for (cin, cout, hw) in [(32, 32, (10, 9)), (64, 32, (7, 7))] {
        let g = geom(6, cin, hw, cout, (3, 3), p1);
        assert!(winograd::applies(&g));
        let x = randn(g.n * g.h * g.w * cin, 1);
        let w = randn(cout * cin * 9, 2);
        let dy = randn(g.n * g.oh * g.ow * cout, 3);
        let run = |threads: usize| {
            crate::workers::on_threads(threads, || {
                let isa = Isa::detect();
                let y = forward_with(isa, Algo::Winograd, &g, &x, &w, None, None, false);
                let r = backward_with(isa, Algo::Winograd, &g, &x, &w, &dy, (true, true, false));
                (y, r.dx.unwrap(), r.dw.unwrap())
            })
        };
        let (one, three) = (run(1), run(3));
        assert_same_bits(&three.0, &one.0, "forward");
        assert_same_bits(&three.1, &one.1, "input gradient");
        assert_same_bits(&three.2, &one.2, "weight gradient");
    }
}
