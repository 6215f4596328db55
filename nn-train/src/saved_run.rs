//! [`SavedRun`]: a run folder written by `nn-train train --out DIR` (or an ensemble member)
//! brought back to life — its job, its data with the fitted preprocessing, its class names and
//! its model with the saved weights — for `eval`, `predict` and `export`.

use std::path::{Path, PathBuf};

use nn_core::Module;
use nn_core::checkpoint::{LoadMode, load};

use crate::config::TrainConfig;
use crate::data::{PreparedData, prepare};
use crate::error::{Result, TrainError};
use crate::preprocess::PREPROCESS_FILE;

/// The file of a run folder holding the class names (a JSON array, by label).
pub const CLASSES_FILE: &str = "classes.json";
/// The file of a run folder holding the trained weights.
pub const MODEL_FILE: &str = "model.safetensors";
/// The file `nn-train export` writes: the weights with every batch norm folded away.
pub const FOLDED_MODEL_FILE: &str = "model-folded.safetensors";

/// A trained run loaded from its folder.
pub struct SavedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// The job (`config.toml`).
    pub config: TrainConfig,
    /// The data the job was trained on (split deterministically from the job's seeds), with the
    /// run's fitted preprocessing (`preprocess.json`; refitted, with a note, for runs written
    /// before the file existed).
    pub data: PreparedData,
    /// The model with the saved weights (`model.safetensors`).
    pub model: Box<dyn Module>,
    /// The class names, by label (`classes.json`, else the data's).
    pub class_names: Vec<String>,
}

impl SavedRun {
    /// Loads the run in `dir` after checking it is complete ([`crate::run_dir::verify`]):
    /// `config.toml`, the data with the run's fitted preprocessing (`preprocess.json`),
    /// `model.safetensors` (strictly) and `classes.json` if present.
    pub fn load(dir: &Path) -> Result<SavedRun> {
        // A run still going, interrupted, torn or changed is refused before anything is read.
        crate::run_dir::verify(dir)?;
        let mut config = TrainConfig::load(&dir.join("config.toml"))?;
        let saved = dir.join(PREPROCESS_FILE);
        if saved.exists() {
            config.data.preprocess_from = Some(saved);
        } else {
            eprintln!(
                "note: {} has no {PREPROCESS_FILE}; refitting the preprocessing on the run's \
                 training split",
                dir.display()
            );
        }
        let data = prepare(&config.data, config.seed)?;
        let model = build_and_load(&config, &data, &dir.join(MODEL_FILE), false)?;
        let class_names = match read_class_names(dir)? {
            Some(names) if names.len() == data.num_classes => names,
            Some(names) => {
                return Err(TrainError::Invalid {
                    field: dir.join(CLASSES_FILE).display().to_string(),
                    value: format!("{} names", names.len()),
                    expected: format!("one name per class ({} classes)", data.num_classes),
                });
            }
            None => data.class_names.clone(),
        };
        Ok(SavedRun {
            dir: dir.to_path_buf(),
            config,
            data,
            model,
            class_names,
        })
    }

    /// A second, independent copy of the model with the saved weights.
    pub fn load_model_again(&self) -> Result<Box<dyn Module>> {
        build_and_load(&self.config, &self.data, &self.dir.join(MODEL_FILE), false)
    }

    /// The model with its batch norms folded ([`Module::fold_batch_norms`]) and the weights of
    /// `path` (a file written by `nn-train export`) loaded strictly into it.
    pub fn load_folded(&self, path: &Path) -> Result<Box<dyn Module>> {
        build_and_load(&self.config, &self.data, path, true)
    }
}

/// Builds the job's architecture (folded if `folded`) and loads `path` strictly.
fn build_and_load(
    config: &TrainConfig,
    data: &PreparedData,
    path: &Path,
    folded: bool,
) -> Result<Box<dyn Module>> {
    let mut model = config.model.build(
        data.input_shape,
        data.num_classes,
        &mut nn_core::rng::stream(config.seed, 1),
    )?;
    if folded {
        model.fold_batch_norms();
    }
    load(model.as_ref(), path, LoadMode::Strict)?;
    check_finite(&model.state_dict(), path)?;
    Ok(model)
}

/// Checks that every value of every tensor in `state` (read from `path`) is finite: NaN or
/// infinite weights would evaluate to a meaningless accuracy with exit status 0, so they are
/// [`TrainError::BadCheckpoint`] naming the tensor and the first bad element.
pub fn check_finite(state: &[(String, nn_core::Array)], path: &Path) -> Result<()> {
    for (name, t) in state {
        if let Some((i, v)) = t.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TrainError::BadCheckpoint {
                path: path.to_path_buf(),
                message: format!(
                    "tensor `{name}` holds {v} at element {i} of shape {:?} (a diverged or \
                     corrupted model; only finite weights can be evaluated)",
                    t.shape()
                ),
            });
        }
    }
    Ok(())
}

/// Writes `classes.json` (the class names by label) into the run folder `dir`.
pub fn write_class_names(dir: &Path, names: &[String]) -> Result<()> {
    let json = serde_json::to_string_pretty(names).expect("strings serialise");
    crate::write_atomic(&dir.join(CLASSES_FILE), json.as_bytes())
}

/// The class names of the run folder `dir` (`classes.json`), or `None` if it has none.
pub fn read_class_names(dir: &Path) -> Result<Option<Vec<String>>> {
    let path = dir.join(CLASSES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(TrainError::ConfigRead { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::ConfigParse {
            path,
            message: format!("expected a JSON array of class names: {e}"),
        })
}
