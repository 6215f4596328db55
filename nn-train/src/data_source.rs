//! [`DataSource`]: where a job's images come from, as written in the job file.
//!
//! ```toml
//! [data]
//! source = "digits"                          # the embedded UCI digits (the default)
//! source = "fashion_mnist"                   # Debian's dataset-fashion-mnist package, no path
//! source = { fashion_mnist = "DIR" }         # the four IDX files in DIR
//! source = { mnist = "DIR" }                 # likewise for MNIST
//! source = { cifar10 = "DIR" }               # cifar-10-batches-bin
//! source = { cifar100 = "DIR" }              # cifar-100-binary (fine labels)
//! source = { image_folder = "DIR" }          # DIR/train/CLASS/*.png|jpg (+ val/, test/), or DIR/CLASS/*
//! source = { image_folder = { path = "DIR", size = [32, 32], color = "gray", test_fraction = 0.15, cache_mb = 1024 } }
//! ```
//!
//! Nothing is downloaded: file-based sources read what the user has.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::image_source::ImageFolderSource;

/// Where the images come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// The embedded UCI digits (1,797 8×8 grayscale images, 10 classes): stratified 70/15/15
    /// train/validation/test split. `source = "digits"`.
    Digits,
    /// CIFAR-10 binary files (`data_batch_*.bin`, `test_batch.bin`) in this directory.
    Cifar10(PathBuf),
    /// CIFAR-100 binary files (`train.bin`, `test.bin`) in this directory.
    Cifar100(PathBuf),
    /// MNIST IDX files (plain or gzipped) in this directory.
    Mnist(PathBuf),
    /// Fashion-MNIST IDX files in this directory, or with `None` (`source = "fashion_mnist"`)
    /// the files of Debian's `dataset-fashion-mnist` package
    /// ([`nn_data::FASHION_MNIST_DEBIAN_DIR`]).
    FashionMnist(Option<PathBuf>),
    /// Your own images: one folder per class ([`ImageFolderSource`]).
    ImageFolder(ImageFolderSource),
}

const NAMES: &[&str] = &["digits", "fashion_mnist"];
const TABLES: &[&str] = &[
    "cifar10",
    "cifar100",
    "mnist",
    "fashion_mnist",
    "image_folder",
];

impl Serialize for DataSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DataSource::Digits => return s.serialize_str("digits"),
            DataSource::FashionMnist(None) => return s.serialize_str("fashion_mnist"),
            _ => {}
        }
        let mut map = s.serialize_map(Some(1))?;
        match self {
            DataSource::Digits | DataSource::FashionMnist(None) => unreachable!("handled above"),
            DataSource::FashionMnist(Some(dir)) => map.serialize_entry("fashion_mnist", dir)?,
            DataSource::Cifar10(dir) => map.serialize_entry("cifar10", dir)?,
            DataSource::Cifar100(dir) => map.serialize_entry("cifar100", dir)?,
            DataSource::Mnist(dir) => map.serialize_entry("mnist", dir)?,
            DataSource::ImageFolder(spec) => map.serialize_entry("image_folder", spec)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DataSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = DataSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "\"digits\", \"fashion_mnist\", or a table with one key: { cifar10 = \"DIR\" }, \
             { cifar100 = \"DIR\" }, { mnist = \"DIR\" }, { fashion_mnist = \"DIR\" } or \
             { image_folder = \"DIR\" }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DataSource, E> {
        match v {
            "digits" => Ok(DataSource::Digits),
            "fashion_mnist" => Ok(DataSource::FashionMnist(None)),
            "cifar10" | "cifar100" | "mnist" | "image_folder" => Err(E::custom(format!(
                "source \"{v}\" needs the folder of its files: source = {{ {v} = \"DIR\" }}"
            ))),
            other => Err(E::unknown_variant(other, NAMES)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataSource, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an empty source table; expected one key, e.g. { image_folder = \"DIR\" }",
            ));
        };
        let source = match key.as_str() {
            "cifar10" => DataSource::Cifar10(map.next_value()?),
            "cifar100" => DataSource::Cifar100(map.next_value()?),
            "mnist" => DataSource::Mnist(map.next_value()?),
            "fashion_mnist" => DataSource::FashionMnist(Some(map.next_value()?)),
            "image_folder" => DataSource::ImageFolder(map.next_value()?),
            "digits" => {
                return Err(de::Error::custom(
                    "the embedded digits take no folder: source = \"digits\"",
                ));
            }
            other => return Err(de::Error::unknown_variant(other, TABLES)),
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a source table has one key, found `{key}` and `{extra}`"
            )));
        }
        Ok(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use std::path::Path;

    fn parse(source: &str) -> Result<DataSource, String> {
        TrainConfig::from_toml(
            &format!("[data]\nsource = {source}\n"),
            Path::new("job.toml"),
        )
        .map(|c| c.data.source)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_parses_and_round_trips() {
        let cases = [
            ("\"digits\"", DataSource::Digits),
            ("\"fashion_mnist\"", DataSource::FashionMnist(None)),
            (
                "{ fashion_mnist = \"f\" }",
                DataSource::FashionMnist(Some("f".into())),
            ),
            ("{ mnist = \"m\" }", DataSource::Mnist("m".into())),
            ("{ cifar10 = \"c\" }", DataSource::Cifar10("c".into())),
            ("{ cifar100 = \"c\" }", DataSource::Cifar100("c".into())),
            (
                "{ image_folder = \"imgs\" }",
                DataSource::ImageFolder(ImageFolderSource::new("imgs")),
            ),
            (
                "{ image_folder = { path = \"imgs\", size = [16, 12], color = \"gray\", cache_mb = 5 } }",
                DataSource::ImageFolder(ImageFolderSource {
                    size: Some([16, 12]),
                    color: crate::image_source::ImageColor::Gray,
                    cache_mb: 5,
                    ..ImageFolderSource::new("imgs")
                }),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap(), want, "{text}");
            let mut c = TrainConfig::default();
            c.data.source = want.clone();
            let back = TrainConfig::from_toml(&c.to_toml(), Path::new("x.toml")).unwrap();
            assert_eq!(back.data.source, want, "{}", c.to_toml());
        }
    }

    #[test]
    fn mistakes_are_explained() {
        let e = parse("\"mnist\"").unwrap_err();
        assert!(e.contains("source = { mnist = \"DIR\" }"), "{e}");
        let e = parse("\"fashion\"").unwrap_err();
        assert!(e.contains("fashion") && e.contains("fashion_mnist"), "{e}");
        let e = parse("{ imagefolder = \"x\" }").unwrap_err();
        assert!(
            e.contains("imagefolder") && e.contains("image_folder"),
            "{e}"
        );
        let e = parse("{ mnist = \"a\", cifar10 = \"b\" }").unwrap_err();
        assert!(e.contains("one key"), "{e}");
        let e = parse("{ image_folder = { path = \"x\", sise = [1, 1] } }").unwrap_err();
        assert!(e.contains("sise"), "{e}");
    }
}
