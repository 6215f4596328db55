use super::*;

#[test]
fn garbage_truncated_and_foreign_files_are_typed_errors() {
    let p = Path::new("c.safetensors");
    for bytes in [&b""[..], b"garbage", &[0xff; 16]] {
        let e = Checkpoint::from_bytes(bytes, p).unwrap_err();
        assert!(matches!(e, TrainError::BadCheckpoint { .. }), "{e}");
    }
    // A model file (no training state) is not a checkpoint.
    let model = vec![("w".to_string(), Array::zeros(vec![2]))];
    let bytes = nn_core::checkpoint::to_bytes(&model, None, p).unwrap();
    let e = Checkpoint::from_bytes(&bytes, p).unwrap_err();
    assert!(e.to_string().contains("not an nn-train checkpoint"), "{e}");
}
