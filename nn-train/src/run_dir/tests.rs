use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_file_or_a_non_empty_folder_is_refused_for_a_new_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    fs::write(&file, "x").unwrap();
    let e = RunDir::open(&file, OpenMode::New).unwrap_err();
    assert!(matches!(e, RunDirError::NotADirectory { .. }), "{e}");
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let e = RunDir::open(&dir, OpenMode::New).unwrap_err();
    assert!(e.to_string().contains("--overwrite"), "{e}");
    // Not a run folder: --overwrite refuses to wipe it.
    let e = RunDir::open(&dir, OpenMode::Overwrite).unwrap_err();
    assert!(matches!(e, RunDirError::NotARunFolder { .. }), "{e}");
    assert_eq!(names(&dir), ["notes.txt"]);
    let e = RunDir::open(&dir, OpenMode::Resume).unwrap_err();
    assert!(matches!(e, RunDirError::NothingToResume { .. }), "{e}");
    let e = RunDir::open(&tmp.path().join("nope"), OpenMode::Resume).unwrap_err();
    assert!(matches!(e, RunDirError::NothingToResume { .. }), "{e}");
}

#[test]
fn overwrite_removes_the_manifest_and_every_stale_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    {
        let run = RunDir::open(&dir, OpenMode::New).unwrap();
        run.clear().unwrap();
        run.write("config.toml", b"a").unwrap();
        run.write("monitor.csv", b"old").unwrap();
        run.write("member-0/model.safetensors", b"m").unwrap();
        let m = run.commit().unwrap();
        assert_eq!(
            m.files.keys().collect::<Vec<_>>(),
            ["config.toml", "member-0/model.safetensors", "monitor.csv"]
        );
    }
    verify(&dir).unwrap();
    let run = RunDir::open(&dir, OpenMode::Overwrite).unwrap();
    // Opening changes nothing; clearing removes the manifest first, then the rest.
    verify(&dir).unwrap();
    run.clear().unwrap();
    assert_eq!(names(&dir), [LOCK]);
    assert!(matches!(
        verify(&dir).unwrap_err(),
        RunDirError::Incomplete { .. }
    ));
    run.write("config.toml", b"b").unwrap();
    run.commit().unwrap();
    assert_eq!(
        verify(&dir).unwrap().files.keys().collect::<Vec<_>>(),
        ["config.toml"]
    );
}

#[test]
fn a_second_writer_is_locked_out_until_the_first_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = RunDir::open(&dir, OpenMode::New).unwrap();
    run.write("config.toml", b"a").unwrap();
    let e = RunDir::open(&dir, OpenMode::Overwrite).unwrap_err();
    assert!(matches!(e, RunDirError::Locked { .. }), "{e}");
    drop(run);
    RunDir::open(&dir, OpenMode::Overwrite).unwrap();
}

#[test]
fn readers_refuse_changed_missing_or_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = RunDir::open(&dir, OpenMode::New).unwrap();
    run.write("model.safetensors", b"0123456789").unwrap();
    run.write("report.json", b"{}").unwrap();
    run.commit().unwrap();
    // Same size, other bytes.
    fs::write(dir.join("model.safetensors"), b"0123456780").unwrap();
    let e = verify(&dir).unwrap_err();
    assert!(
        e.to_string().contains("model.safetensors") && e.to_string().contains("CRC-32"),
        "{e}"
    );
    fs::write(dir.join("model.safetensors"), b"short").unwrap();
    assert!(verify(&dir).unwrap_err().to_string().contains("bytes"));
    fs::remove_file(dir.join("model.safetensors")).unwrap();
    assert!(verify(&dir).unwrap_err().to_string().contains("missing"));
    fs::write(dir.join(MANIFEST), "{not json").unwrap();
    assert!(matches!(
        verify(&dir).unwrap_err(),
        RunDirError::BadManifest { .. }
    ));
    // A manifest naming a file outside the folder is refused before anything is read.
    let evil = r#"{"format":"nn-train run","version":1,"files":{"../x":{"bytes":0,"crc32":0}}}"#;
    fs::write(dir.join(MANIFEST), evil).unwrap();
    assert!(matches!(
        verify(&dir).unwrap_err(),
        RunDirError::BadManifest { .. }
    ));
}

#[test]
fn failed_writes_and_dead_writers_leave_no_temporary_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = RunDir::open(&dir, OpenMode::New).unwrap();
    let e = run
        .write_with("plot.png", |p: &Path| -> Result<(), RunDirError> {
            fs::write(p, b"half").unwrap();
            Err(RunDirError::BadName { name: "x".into() })
        })
        .unwrap_err();
    assert!(matches!(e, RunDirError::BadName { .. }));
    assert_eq!(names(&dir), [LOCK]);
    assert!(run.write("../escape", b"x").is_err());
    assert!(run.write("/abs", b"x").is_err());
    assert!(run.write(MANIFEST, b"x").is_err());
    drop(run);
    // A killed writer's temporary files (ours, nn-core's) are removed by the next open.
    fs::write(dir.join(".model.safetensors.tmp-123-0"), b"x").unwrap();
    fs::create_dir(dir.join("member-0")).unwrap();
    fs::write(dir.join("member-0/.report.json.77.tmp"), b"x").unwrap();
    fs::write(dir.join(CHECKPOINT), b"x").unwrap();
    let _run = RunDir::open(&dir, OpenMode::Resume).unwrap();
    assert_eq!(names(&dir), [LOCK, CHECKPOINT, "member-0"]);
    assert!(names(&dir.join("member-0")).is_empty());
}
