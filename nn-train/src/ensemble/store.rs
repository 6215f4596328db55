//! Ensembles that survive interruption: [`MemberStore`] keeps every member as it finishes and
//! gives each member in training a checkpoint, so that an ensemble killed at member 3 of 5
//! continues with members 0-2 kept and member 3 resumed from its last checkpoint.
//! [`RunDirMembers`] stores them in a run folder (`nn-train ensemble --out DIR`, continued by
//! `nn-train ensemble --resume DIR`): `DIR/member-<i>/` is a run folder of its own, complete
//! (with its manifest) once the member has finished, holding `checkpoint.safetensors` while it
//! trains. A resumed ensemble's members, report and `ensemble.json` are byte-identical to an
//! uninterrupted one's: kept members are read back exactly, and interrupted members resume
//! exactly ([`crate::checkpoint`]).

use std::path::Path;

use nn_core::Module;
use nn_core::checkpoint::{LoadMode, load};

use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::error::{Result, TrainError};
use crate::interrupt::Interrupt;
use crate::run_dir::{CHECKPOINT, MANIFEST, RunDir, verify};
use crate::saved_run::{CLASSES_FILE, MODEL_FILE, check_finite};
use crate::trainer::{Checkpointing, TrainReport, Trained};

/// Where an ensemble keeps its members (see the [module docs](self)).
pub trait MemberStore: Sync {
    /// Whether member `i` has finished and been stored.
    fn is_finished(&self, i: usize) -> bool;
    /// The finished member `i` (trained with `config`) with its model built for `data`.
    fn load(
        &self,
        i: usize,
        config: &TrainConfig,
        data: &PreparedData,
    ) -> Result<(Box<dyn Module>, TrainReport)>;
    /// How member `i` checkpoints while it trains, and the checkpoint it continues from.
    fn plan(&self, i: usize) -> Result<Checkpointing>;
    /// Stores the finished member `i` (trained with `config`).
    fn store(&self, i: usize, config: &TrainConfig, trained: &Trained) -> Result<()>;
}

/// The sub-folder of member `i`.
pub fn member_folder(i: usize) -> String {
    format!("member-{i}")
}

/// Members stored in `DIR/member-<i>/` of an open run folder, checkpoints interrupted by
/// `interrupt`.
pub struct RunDirMembers<'a> {
    /// The ensemble's run folder.
    pub run: &'a RunDir,
    /// Raised by SIGINT/SIGTERM: the members in training write a checkpoint and stop.
    pub interrupt: Option<Interrupt>,
}

impl MemberStore for RunDirMembers<'_> {
    fn is_finished(&self, i: usize) -> bool {
        self.run
            .path()
            .join(member_folder(i))
            .join(MANIFEST)
            .is_file()
    }

    fn load(
        &self,
        i: usize,
        config: &TrainConfig,
        data: &PreparedData,
    ) -> Result<(Box<dyn Module>, TrainReport)> {
        let dir = self.run.path().join(member_folder(i));
        verify(&dir)?;
        let job = dir.join("config.toml");
        let text = std::fs::read_to_string(&job).map_err(|source| TrainError::ConfigRead {
            path: job.clone(),
            source,
        })?;
        if text != config.to_toml() {
            return Err(TrainError::Invalid {
                field: job.display().to_string(),
                value: "a finished member's job".into(),
                expected: format!(
                    "member {i} of this ensemble's job (the folder holds another ensemble; \
                     resume with the same job and settings, or start a new --out)"
                ),
            });
        }
        let model = config.model.build(
            data.input_shape,
            data.num_classes,
            &mut nn_core::rng::stream(config.seed, 1),
        )?;
        let weights = dir.join(MODEL_FILE);
        load(model.as_ref(), &weights, LoadMode::Strict)?;
        check_finite(&model.state_dict(), &weights)?;
        let path = dir.join("report.json");
        let report = std::fs::read(&path)
            .map_err(|source| TrainError::Write {
                path: path.clone(),
                source,
            })
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| TrainError::BadCheckpoint {
                    path: path.clone(),
                    message: format!("not a training report: {e}"),
                })
            })?;
        Ok((model, report))
    }

    fn plan(&self, i: usize) -> Result<Checkpointing> {
        let sub = member_folder(i);
        let path = self.run.file(&format!("{sub}/{CHECKPOINT}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TrainError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let resume = if path.is_file() {
            Some(Checkpoint::load(&path)?)
        } else {
            None
        };
        Ok(Checkpointing {
            path: Some(path),
            interrupt: self.interrupt.clone(),
            resume,
        })
    }

    fn store(&self, i: usize, config: &TrainConfig, trained: &Trained) -> Result<()> {
        write_member(
            self.run,
            &member_folder(i),
            config,
            Some(&trained.report),
            trained.model.as_ref(),
            &trained.data.class_names,
        )
    }
}

/// Writes one member's run folder `sub` inside `run` (config.toml, classes.json, report.json
/// if given, model.safetensors) and marks it complete (its manifest, written last).
pub fn write_member(
    run: &RunDir,
    sub: &str,
    config: &TrainConfig,
    report: Option<&TrainReport>,
    model: &dyn Module,
    class_names: &[String],
) -> Result<()> {
    run.write(&format!("{sub}/config.toml"), config.to_toml().as_bytes())?;
    let names = serde_json::to_string_pretty(class_names).expect("strings serialise");
    run.write(&format!("{sub}/{CLASSES_FILE}"), names.as_bytes())?;
    if let Some(r) = report {
        let json = serde_json::to_string_pretty(r).expect("reports serialise");
        run.write(&format!("{sub}/report.json"), json.as_bytes())?;
    }
    run.write_with(&format!("{sub}/{MODEL_FILE}"), |p: &Path| -> Result<()> {
        Ok(nn_core::checkpoint::save(model, p)?)
    })?;
    run.commit_sub(sub)?;
    Ok(())
}
