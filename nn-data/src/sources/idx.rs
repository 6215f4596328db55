//! The IDX file format of MNIST and Fashion-MNIST (LeCun et al.,
//! <http://yann.lecun.com/exdb/mnist/>), plain or gzipped.
//!
//! Layout: magic `00 00 TT DD` (`TT` = element type, `DD` = number of dimensions), then `DD`
//! big-endian `u32` sizes, then the elements in row-major order. MNIST uses `TT = 08` (unsigned
//! byte) for both images (`DD = 3`: N, H, W) and labels (`DD = 1`). Only unsigned bytes are
//! supported; other element types are a typed error.

use super::read_file_limited;
use crate::DataError;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The sizes from the header, outermost first.
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// The two magic bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The default limit on the size of an IDX array, in bytes (1 GiB): MNIST's training images
/// are 47 MB, EMNIST ByClass's 547 MB. A gzipped file is checked against it from its header,
/// before anything is inflated ([`parse_idx_limited`]).
pub const DEFAULT_MAX_IDX_BYTES: u64 = 1 << 30;

/// Parses an IDX file's bytes; gunzips first if they start with the gzip magic. The array may
/// hold at most [`DEFAULT_MAX_IDX_BYTES`] bytes (see [`parse_idx_limited`]).
///
/// Errors name `origin`: a corrupt gzip stream, a bad magic number, an unsupported element
/// type, a header or data shorter than announced, or trailing bytes after the data.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<IdxArray, DataError> {
    parse_idx_limited(bytes, origin, DEFAULT_MAX_IDX_BYTES)
}

/// [`parse_idx`] with a limit on the size of the array: the size the header declares is
/// checked against `max_bytes` before the data is read, and a gzip stream is inflated only up
/// to the declared size (plus one byte, to detect trailing data). A small gzip file that would
/// inflate to gigabytes (a decompression bomb) is refused after a few bytes of output:
/// [`DataError::TooLarge`] if its header declares more than `max_bytes`, otherwise a
/// trailing-bytes error once the declared size is passed.
pub fn parse_idx_limited(
    bytes: &[u8],
    origin: &Path,
    max_bytes: u64,
) -> Result<IdxArray, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        let header = parse_header(bytes, origin)?;
        check_limit(&header, origin, max_bytes)?;
        let body = &bytes[header.len..];
        return finish(header, body, origin);
    }
    let corrupt =
        |e: std::io::Error| DataError::malformed(origin, format!("corrupt gzip stream: {e}"));
    let mut stream = MultiGzDecoder::new(bytes);
    // The magic number, then the dimensions it announces (at most 255 × 4 bytes).
    let mut head = Vec::with_capacity(4 + 4 * 255);
    (&mut stream)
        .take(4)
        .read_to_end(&mut head)
        .map_err(corrupt)?;
    if head.len() == 4 {
        let dims = u64::from(head[3]) * 4;
        (&mut stream)
            .take(dims)
            .read_to_end(&mut head)
            .map_err(corrupt)?;
    }
    let header = parse_header(&head, origin)?;
    check_limit(&header, origin, max_bytes)?;
    // Inflate at most the declared size plus one byte (growing the buffer as data arrives, so a
    // header that lies about a large size costs nothing).
    let mut body = Vec::new();
    (&mut stream)
        .take(header.count as u64 + 1)
        .read_to_end(&mut body)
        .map_err(corrupt)?;
    finish(header, &body, origin)
}

/// An IDX header: the dimensions, their product and the header's length in bytes.
struct Header {
    dims: Vec<usize>,
    count: usize,
    len: usize,
}

fn check_limit(header: &Header, origin: &Path, max_bytes: u64) -> Result<(), DataError> {
    let bytes = header.count as u64;
    if bytes > max_bytes {
        return Err(DataError::TooLarge {
            path: origin.into(),
            what: format!("IDX data of shape {:?}", header.dims),
            bytes,
            max_bytes,
        });
    }
    Ok(())
}

fn finish(header: Header, body: &[u8], origin: &Path) -> Result<IdxArray, DataError> {
    let (dims, count) = (header.dims, header.count);
    if body.len() < count {
        return Err(DataError::Truncated {
            path: origin.into(),
            what: format!("IDX data of shape {dims:?}"),
            expected: count,
            found: body.len(),
        });
    }
    if body.len() > count {
        return Err(DataError::malformed(
            origin,
            format!(
                "{} trailing bytes after IDX data of shape {dims:?}",
                body.len() - count
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
}

fn parse_header(bytes: &[u8], origin: &Path) -> Result<Header, DataError> {
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: origin.into(),
            what: "IDX magic number".into(),
            expected: 4,
            found: bytes.len(),
        });
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0 {
        return Err(DataError::BadMagic {
            path: origin.into(),
            expected: "00 00 08 0N (IDX, unsigned bytes, N ≥ 1 dimensions)".into(),
            found: format!(
                "{:02x} {:02x} {:02x} {:02x}",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        });
    }
    if bytes[2] != 0x08 {
        return Err(DataError::malformed(
            origin,
            format!(
                "unsupported IDX element type 0x{:02x} ({}); only 0x08 (unsigned byte) is supported",
                bytes[2],
                type_name(bytes[2])
            ),
        ));
    }
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: origin.into(),
            what: format!("IDX header of {ndims} dimensions"),
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            DataError::malformed(
                origin,
                format!("IDX dimensions {dims:?} overflow the address space"),
            )
        })?;
    Ok(Header {
        dims,
        count,
        len: header,
    })
}

fn type_name(t: u8) -> &'static str {
    match t {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        _ => "unknown",
    }
}

/// Reads and parses an IDX file (plain or gzipped, detected from the content), of at most
/// [`DEFAULT_MAX_IDX_BYTES`].
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    read_idx_limited(path, DEFAULT_MAX_IDX_BYTES)
}

/// [`read_idx`] with a limit on the array's size in bytes (see [`parse_idx_limited`]); a plain
/// file larger than the limit (plus its header) is refused before it is read.
pub fn read_idx_limited(path: &Path, max_bytes: u64) -> Result<IdxArray, DataError> {
    parse_idx_limited(
        &read_file_limited(path, max_bytes.saturating_add(4 + 4 * 255))?,
        path,
        max_bytes,
    )
}

/// Encodes unsigned bytes as an IDX file (the inverse of [`parse_idx`]; used to build fixtures).
///
/// Panics if `data.len()` is not the product of `dims` or a dimension exceeds `u32::MAX`.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "encode_idx: dims {dims:?} vs data"
    );
    let mut out = vec![
        0,
        0,
        0x08,
        u8::try_from(dims.len()).expect("encode_idx: ≤ 255 dims"),
    ];
    for &d in dims {
        out.extend_from_slice(
            &u32::try_from(d)
                .expect("encode_idx: dim ≤ u32::MAX")
                .to_be_bytes(),
        );
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use proptest::prelude::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(dims in proptest::collection::vec(0usize..5, 1..4), gzip: bool) {
            let n: usize = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut bytes = encode_idx(&dims, &data);
            if gzip {
                bytes = gz(&bytes);
            }
            let a = parse_idx(&bytes, Path::new("x")).unwrap();
            prop_assert_eq!(a, IdxArray { dims, data });
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes, Path::new("x"));
        }
    }

    /// A gzip stream of `n` zero bytes after `header`, written in pieces (never `n` bytes at once).
    fn gz_zeros(header: &[u8], n: usize) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(header).unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(chunk.len());
            e.write_all(&chunk[..k]).unwrap();
            left -= k;
        }
        e.finish().unwrap()
    }

    #[test]
    fn gzip_bombs_are_refused_before_inflating() {
        let p = Path::new("bomb-idx3-ubyte.gz");
        // The header declares 4 GB: refused after inflating 16 bytes.
        let bomb = gz_zeros(&[0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0], 16);
        let err = parse_idx(&bomb, p).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TooLarge {
                    bytes: 4_294_967_296,
                    max_bytes: DEFAULT_MAX_IDX_BYTES,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("bomb-idx3-ubyte.gz"), "{err}");
        // The header declares 4 bytes but 64 MB follow: refused after inflating 5 bytes.
        let liar = gz_zeros(&[0, 0, 8, 1, 0, 0, 0, 4], 64 << 20);
        assert!(liar.len() < 100_000, "{}", liar.len());
        let err = parse_idx(&liar, p).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
        // A configurable limit, for plain and gzipped files alike.
        let small = encode_idx(&[2, 3], &[0; 6]);
        assert!(parse_idx_limited(&small, p, 6).is_ok());
        for bytes in [small.clone(), gz(&small)] {
            let err = parse_idx_limited(&bytes, p, 5).unwrap_err();
            assert!(
                matches!(
                    err,
                    DataError::TooLarge {
                        bytes: 6,
                        max_bytes: 5,
                        ..
                    }
                ),
                "{err}"
            );
        }
        // A plain file above the limit is not read at all.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big-idx1-ubyte");
        std::fs::write(&f, encode_idx(&[5000], &[0; 5000])).unwrap();
        let err = read_idx_limited(&f, 1000).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
        assert_eq!(read_idx_limited(&f, 5000).unwrap().dims, vec![5000]);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let p = Path::new("train-labels-idx1-ubyte");
        let err = parse_idx(&[0, 1, 8, 1], p).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { .. }));
        assert!(err.to_string().contains("train-labels-idx1-ubyte"));
        let err = parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 0], p).unwrap_err();
        assert!(err.to_string().contains("float"), "{err}");
        let err = parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1], p).unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 12,
                found: 8,
                ..
            }
        ));
        let err = parse_idx(&[0, 0, 8, 1, 0, 0, 0, 3, 1, 2], p).unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 3,
                found: 2,
                ..
            }
        ));
        let err = parse_idx(&[0, 0, 8, 1, 0, 0, 0, 1, 1, 2], p).unwrap_err();
        assert!(err.to_string().contains("trailing"));
        let huge = [
            0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        assert!(parse_idx(&huge, p).is_err());
        let mut corrupt = gz(&encode_idx(&[4], &[1, 2, 3, 4]));
        corrupt.truncate(12);
        let err = parse_idx(&corrupt, p).unwrap_err();
        assert!(err.to_string().contains("gzip"), "{err}");
    }
}
