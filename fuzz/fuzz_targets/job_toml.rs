//! Fuzzes the job file: `TrainConfig::from_toml` (parse + validation, what every subcommand
//! reads first) never panics, and a job it accepts prints (`nn-train config`) to TOML that
//! parses back to the same job.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_train::TrainConfig;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    if let Ok(job) = TrainConfig::from_toml(text, path) {
        let printed = job.to_toml();
        let back = TrainConfig::from_toml(&printed, path).expect("a printed job parses");
        // NaN fields (where a NaN is valid) compare unequal; compare the printed forms.
        assert_eq!(back.to_toml(), printed);
    }
});
