//! Keys of a job file that the parsed job does not hold.
//!
//! Every config struct denies unknown fields, but serde ignores extra keys beside the tag of an
//! internally tagged *unit* variant (serde-rs/serde#2123): `activation = { kind = "relu",
//! negative_slope = 0.1 }` would parse as plain ReLU, the option silently lost. So after parsing,
//! the job is serialised again and every key of the file must be found there: a key that
//! survives the round trip nowhere was ignored.

/// The dotted path of the first key of `file` that `parsed` (the parsed job, serialised) lacks,
/// e.g. `model.activation.negative_slope`, or `None`. Tables are compared key by key and arrays
/// element by element; where the two differ in kind (a shorthand string that serialises as a
/// table) the comparison stops, as the parser has already checked that value.
pub(crate) fn first_ignored_key(file: &toml::Table, parsed: &toml::Table) -> Option<String> {
    table(file, parsed, "")
}

fn table(file: &toml::Table, parsed: &toml::Table, prefix: &str) -> Option<String> {
    for (key, value) in file {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match parsed.get(key) {
            None => return Some(path),
            Some(kept) => {
                if let Some(p) = self::value(value, kept, &path) {
                    return Some(p);
                }
            }
        }
    }
    None
}

fn value(file: &toml::Value, parsed: &toml::Value, path: &str) -> Option<String> {
    match (file, parsed) {
        (toml::Value::Table(f), toml::Value::Table(p)) => table(f, p, path),
        (toml::Value::Array(f), toml::Value::Array(p)) if f.len() == p.len() => f
            .iter()
            .zip(p)
            .enumerate()
            .find_map(|(i, (f, p))| value(f, p, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn finds_keys_the_parse_dropped_at_any_depth() {
        let parsed = t(
            "a = 1\n[m]\nkind = \"relu\"\n[[x]]\ntype = \"flip\"\n[[x]]\ntype = \"crop\"\nsize = 2",
        );
        assert_eq!(first_ignored_key(&parsed, &parsed), None);
        assert_eq!(
            first_ignored_key(&t("a = 1\n[m]\nkind = \"relu\"\nslope = 0.1"), &parsed),
            Some("m.slope".into())
        );
        assert_eq!(first_ignored_key(&t("b = 1"), &parsed), Some("b".into()));
        let file = t("[[x]]\ntype = \"flip\"\np = 0.5\n[[x]]\ntype = \"crop\"\nsize = 2");
        assert_eq!(first_ignored_key(&file, &parsed), Some("x[0].p".into()));
        // A shorthand the parser expanded (a string for a table) is not compared further.
        assert_eq!(first_ignored_key(&t("m = \"relu\""), &parsed), None);
    }
}
