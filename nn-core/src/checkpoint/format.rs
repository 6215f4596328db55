//! Reading and writing state dicts as safetensors bytes and files.
//!
//! Tensors are written as little-endian `F32` with their shapes (row-major, PyTorch's layout) —
//! or `I64` for the names given as integers (the `_typed` functions: BatchNorm's
//! `num_batches_tracked`, which PyTorch stores as `int64`) — plus the metadata
//! `{"format": "pt"}` that Hugging Face tools expect. Reading accepts every float and
//! integer dtype PyTorch saves (`F64`, `F32`, `F16`, `BF16`, `I64` — e.g. BatchNorm's
//! `num_batches_tracked` — `I32`, `I16`, `I8`, `U8`, `BOOL`, …) and converts it to `f32`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use ndarray::IxDyn;
use safetensors::tensor::{Dtype, TensorView, View};
use safetensors::{SafeTensorError, SafeTensors, serialize, serialize_to_file};

use super::CheckpointError;
use crate::tensor::Array;

/// Serialises `tensors` (name, value) to safetensors bytes (`F32`), with optional extra
/// metadata. `path` only names the destination in errors.
///
/// # Errors
/// [`CheckpointError::DuplicateName`] if two tensors share a name.
pub fn to_bytes(
    tensors: &[(String, Array)],
    metadata: Option<&HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    to_bytes_typed(tensors, &[], metadata, path)
}

/// As [`to_bytes`], writing the tensors named in `integers` as `I64` (values rounded to the
/// nearest integer) instead of `F32`.
///
/// # Errors
/// [`CheckpointError::DuplicateName`] if two tensors share a name.
pub fn to_bytes_typed(
    tensors: &[(String, Array)],
    integers: &[String],
    metadata: Option<&HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    let (views, info) = prepare(tensors, integers, metadata, path)?;
    serialize(views, Some(info)).map_err(|source| CheckpointError::Format {
        path: path.to_path_buf(),
        source,
    })
}

/// A tensor as safetensors sees it: its little-endian `F32` (or, for an integer tensor, `I64`)
/// bytes are produced only when the serialiser writes that tensor, so saving never holds a
/// second copy of the whole model.
struct TensorBytes<'a> {
    array: &'a Array,
    integer: bool,
}

impl View for TensorBytes<'_> {
    fn dtype(&self) -> Dtype {
        if self.integer { Dtype::I64 } else { Dtype::F32 }
    }
    fn shape(&self) -> &[usize] {
        self.array.shape()
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(if self.integer {
            self.array
                .iter()
                .flat_map(|v| (v.round() as i64).to_le_bytes())
                .collect()
        } else {
            self.array.iter().flat_map(|v| v.to_le_bytes()).collect()
        })
    }
    fn data_len(&self) -> usize {
        self.array.len() * if self.integer { 8 } else { 4 }
    }
}

type Prepared<'a> = (Vec<(&'a str, TensorBytes<'a>)>, HashMap<String, String>);

/// Checks for duplicate names and builds the views and the metadata (`{"format": "pt"}` plus
/// `metadata`).
fn prepare<'a>(
    tensors: &'a [(String, Array)],
    integers: &[String],
    metadata: Option<&HashMap<String, String>>,
    path: &Path,
) -> Result<Prepared<'a>, CheckpointError> {
    let mut seen = std::collections::HashSet::new();
    for (name, _) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(CheckpointError::DuplicateName {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
    }
    let views = tensors
        .iter()
        .map(|(name, a)| {
            let integer = integers.iter().any(|n| n == name);
            (name.as_str(), TensorBytes { array: a, integer })
        })
        .collect();
    let mut info = HashMap::from([("format".to_string(), "pt".to_string())]);
    if let Some(extra) = metadata {
        info.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok((views, info))
}

/// Parses safetensors `bytes` into (name, value) pairs sorted by name, converting every tensor
/// to `f32`. `path` only names the source in errors.
///
/// # Errors
/// [`CheckpointError::Format`] for bytes that are not a valid safetensors file;
/// [`CheckpointError::UnsupportedDtype`] for complex or sub-byte float tensors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<(String, Array)>, CheckpointError> {
    let st = SafeTensors::deserialize(bytes).map_err(|source| CheckpointError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = to_f32(&view).ok_or_else(|| CheckpointError::UnsupportedDtype {
                path: path.to_path_buf(),
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            })?;
            let array = Array::from_shape_vec(IxDyn(view.shape()), values)
                .expect("safetensors validated the size");
            Ok((name, array))
        })
        .collect::<Result<Vec<_>, CheckpointError>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes `tensors` to the safetensors file `path` atomically ([`crate::atomic_write`]: a
/// temporary file in the same directory, streamed one tensor at a time, flushed to disk, then
/// renamed over `path`): a crash or error never leaves a partly written checkpoint, and an
/// existing file is replaced only by a complete one.
///
/// # Errors
/// [`CheckpointError::Write`] on I/O failure; [`CheckpointError::DuplicateName`].
pub fn write_file(
    path: impl AsRef<Path>,
    tensors: &[(String, Array)],
    metadata: Option<&HashMap<String, String>>,
) -> Result<(), CheckpointError> {
    write_file_typed(path, tensors, &[], metadata)
}

/// As [`write_file`], writing the tensors named in `integers` as `I64` (see [`to_bytes_typed`]).
///
/// # Errors
/// As [`write_file`].
pub fn write_file_typed(
    path: impl AsRef<Path>,
    tensors: &[(String, Array)],
    integers: &[String],
    metadata: Option<&HashMap<String, String>>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let (views, info) = prepare(tensors, integers, metadata, path)?;
    crate::atomic_write::write_atomic_with(path, |tmp| {
        serialize_to_file(views, Some(info), tmp).map_err(|e| match e {
            SafeTensorError::IoError(source) => CheckpointError::Write {
                path: path.to_path_buf(),
                source,
            },
            source => CheckpointError::Format {
                path: path.to_path_buf(),
                source,
            },
        })
    })
}

/// Reads every tensor of the safetensors file `path` as `f32`, sorted by name.
///
/// # Errors
/// [`CheckpointError::Read`], [`CheckpointError::Format`], [`CheckpointError::UnsupportedDtype`].
pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<(String, Array)>, CheckpointError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| CheckpointError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes, path)
}

/// The values of `view` as `f32`, or `None` for a dtype without a conversion.
fn to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let d = view.data();
    fn chunks<const N: usize>(d: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        d.chunks_exact(N)
            .map(|c| c.try_into().expect("exact chunk"))
    }
    Some(match view.dtype() {
        Dtype::F32 => chunks::<4>(d).map(f32::from_le_bytes).collect(),
        Dtype::F64 => chunks::<8>(d)
            .map(|b| f64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::F16 => chunks::<2>(d)
            .map(|b| f16_to_f32(u16::from_le_bytes(b)))
            .collect(),
        Dtype::BF16 => chunks::<2>(d)
            .map(|b| f32::from_bits((u16::from_le_bytes(b) as u32) << 16))
            .collect(),
        Dtype::I64 => chunks::<8>(d)
            .map(|b| i64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::U64 => chunks::<8>(d)
            .map(|b| u64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I32 => chunks::<4>(d)
            .map(|b| i32::from_le_bytes(b) as f32)
            .collect(),
        Dtype::U32 => chunks::<4>(d)
            .map(|b| u32::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I16 => chunks::<2>(d)
            .map(|b| i16::from_le_bytes(b) as f32)
            .collect(),
        Dtype::U16 => chunks::<2>(d)
            .map(|b| u16::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
        Dtype::U8 => d.iter().map(|&b| b as f32).collect(),
        Dtype::BOOL => d.iter().map(|&b| if b != 0 { 1.0 } else { 0.0 }).collect(),
        _ => return None,
    })
}

/// IEEE 754 binary16 → binary32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match exp {
        0 => sign * man as f32 * (1.0 / 16_777_216.0), // subnormal: man · 2⁻²⁴
        31 if man == 0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => f32::from_bits((u32::from(h & 0x8000) << 16) | ((exp + 127 - 15) << 23) | (man << 13)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000), 0.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Any state dict (names, shapes including scalars and empty axes, any finite or
        /// special value) survives to_bytes → from_bytes bit for bit.
        #[test]
        fn random_state_dicts_round_trip(
            tensors in proptest::collection::btree_map(
                "[a-z][a-z0-9_.]{0,12}",
                (proptest::collection::vec(0usize..4, 0..4), proptest::prelude::any::<u64>()),
                0..6,
            )
        ) {
            use rand::Rng as _;
            let p = Path::new("prop.safetensors");
            let state: Vec<(String, Array)> = tensors
                .into_iter()
                .map(|(name, (shape, seed))| {
                    let mut rng = crate::rng::seeded(seed);
                    let a = Array::from_shape_simple_fn(IxDyn(&shape), || {
                        f32::from_bits(rng.random::<u32>())
                    });
                    (name, a)
                })
                .collect();
            let back = from_bytes(&to_bytes(&state, None, p).unwrap(), p).unwrap();
            proptest::prop_assert_eq!(back.len(), state.len());
            for ((n1, a1), (n2, a2)) in state.iter().zip(&back) {
                proptest::prop_assert_eq!(n1, n2);
                proptest::prop_assert_eq!(a1.shape(), a2.shape());
                let bits = |a: &Array| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                proptest::prop_assert_eq!(bits(a1), bits(a2));
            }
        }
    }

    #[test]
    fn bytes_round_trip_and_duplicates_are_refused() {
        let p = Path::new("mem.safetensors");
        let t = vec![
            (
                "b".to_string(),
                Array::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, -2.0, 3.5, 0.0]).unwrap(),
            ),
            ("a".to_string(), Array::from_elem(IxDyn(&[]), 7.0)),
        ];
        let back = from_bytes(&to_bytes(&t, None, p).unwrap(), p).unwrap();
        assert_eq!(back[0], t[1]);
        assert_eq!(back[1], t[0]);
        // The streamed file holds exactly the same bytes.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.safetensors");
        write_file(&f, &t, None).unwrap();
        assert_eq!(fs::read(&f).unwrap(), to_bytes(&t, None, p).unwrap());
        let dup = vec![t[0].clone(), t[0].clone()];
        let e = to_bytes(&dup, None, p).unwrap_err();
        assert!(e.to_string().contains("two tensors are named `b`"), "{e}");
    }
}
