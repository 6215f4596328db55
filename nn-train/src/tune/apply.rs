//! Applying a sampled point to a job: [`apply_sample`] sets dotted config paths generically,
//! through the config's TOML form, so any field of [`TrainConfig`] (and of its optimizer,
//! model, data and schedule sections) can be searched without code per field.
//!
//! The config is serialised to a [`toml::Value`], the value set at the path (creating missing
//! tables, so optional sections can be set), deserialised back (the config denies unknown
//! fields, so a typo is an error) and validated. A path that does not name a field, or a value
//! of the wrong type, is a [`TuneError`] naming the path and the value.

use super::error::TuneError;
use super::space::Sample;
use crate::config::TrainConfig;

/// `base` with every path of `sample` set to its value, validated.
pub fn apply_sample(base: &TrainConfig, sample: &Sample) -> Result<TrainConfig, TuneError> {
    let mut root = toml::Value::try_from(base).expect("configs serialise to TOML");
    let mut config = base.clone();
    for (path, value) in sample {
        set_path(&mut root, path, value.clone())?;
        config = root
            .clone()
            .try_into::<TrainConfig>()
            .map_err(|e| deserialise_error(path, value, e))?;
        // Re-serialise: the path must now hold the value (catches a field a lenient section
        // would have ignored).
        root = toml::Value::try_from(&config).expect("configs serialise to TOML");
        match get_path(&root, path) {
            Some(stored) if same_value(stored, value) => {}
            _ => {
                return Err(TuneError::UnknownPath {
                    path: path.clone(),
                    value: value.to_string(),
                    message: "the job config has no such field".into(),
                });
            }
        }
    }
    config.validate()?;
    Ok(config)
}

/// Sets `path` (keys separated by dots) in `root` to `value`, creating missing tables.
/// Errors if a key on the way holds a non-table value.
pub fn set_path(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<(), TuneError> {
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(TuneError::UnknownPath {
            path: path.into(),
            value: value.to_string(),
            message: "empty key in the dotted path".into(),
        });
    }
    let mut node = root;
    for (i, key) in keys.iter().enumerate() {
        let table = node.as_table_mut().ok_or_else(|| TuneError::UnknownPath {
            path: path.into(),
            value: value.to_string(),
            message: format!("`{}` is not a table", keys[..i].join(".")),
        })?;
        if i + 1 == keys.len() {
            table.insert(key.to_string(), value);
            return Ok(());
        }
        node = table
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
    }
    unreachable!("the loop returns at the last key")
}

/// The value at `path` in `root`, if any.
pub fn get_path<'a>(root: &'a toml::Value, path: &str) -> Option<&'a toml::Value> {
    path.split('.').try_fold(root, |node, key| node.get(key))
}

fn deserialise_error(path: &str, value: &toml::Value, e: toml::de::Error) -> TuneError {
    let message = e.message().trim().to_string();
    if message.contains("unknown field") || message.contains("unknown variant") {
        TuneError::UnknownPath {
            path: path.into(),
            value: value.to_string(),
            message,
        }
    } else {
        TuneError::WrongType {
            path: path.into(),
            value: value.to_string(),
            message,
        }
    }
}

/// Equality after a round trip through the config (an integer stored into a float field, an
/// f64 stored into an f32 field).
fn same_value(stored: &toml::Value, set: &toml::Value) -> bool {
    let num = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    match (num(stored), num(set)) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs()),
        _ => stored == set,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, toml::Value)]) -> Sample {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn sets_nested_and_optional_fields() {
        let c = apply_sample(
            &TrainConfig::default(),
            &sample(&[
                ("optimizer.lr", 0.03.into()),
                ("batch_size", 32.into()),
                ("model.dropout", 0.25.into()),
                ("data.limit_train", 100.into()),
                ("label_smoothing", 0.1.into()),
            ]),
        )
        .unwrap();
        assert_eq!(c.batch_size, 32);
        assert_eq!(c.data.limit_train, Some(100));
        assert!((c.label_smoothing - 0.1).abs() < 1e-7);
        let text = c.to_toml();
        assert!(
            text.contains("lr = 0.03") && text.contains("dropout = 0.25"),
            "{text}"
        );
    }

    #[test]
    fn integer_into_float_field() {
        let c = apply_sample(
            &TrainConfig::default(),
            &sample(&[("optimizer.lr", 1.into())]),
        );
        assert!(c.unwrap().to_toml().contains("lr = 1.0"));
    }

    #[test]
    fn errors_name_path_and_value() {
        let base = TrainConfig::default();
        for (path, value, kind) in [
            ("optimizer.lrr", toml::Value::from(0.1), "unknown"),
            ("nope", 1.into(), "unknown"),
            ("epochs.x", 1.into(), "unknown"),
            ("a..b", 1.into(), "unknown"),
            ("batch_size", 0.5.into(), "cannot set"),
            ("optimizer.lr", "fast".into(), "cannot set"),
        ] {
            let e = apply_sample(&base, &sample(&[(path, value.clone())])).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("`{path}`")) && msg.contains(&value.to_string()),
                "{msg}"
            );
            assert!(msg.starts_with(kind), "{msg}");
        }
        // Valid type, invalid value: the config's own validation names the field.
        let e = apply_sample(&base, &sample(&[("label_smoothing", 1.5.into())])).unwrap_err();
        assert!(e.to_string().contains("label_smoothing"), "{e}");
    }
}
