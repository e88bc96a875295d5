//! The cost_model parser: any text gives a value or a file:line:column error, never a panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = archbench::cost::CostModel::parse(text, Path::new("fuzz.toml"));
    }
});
