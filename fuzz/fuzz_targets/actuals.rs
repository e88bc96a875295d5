//! The actuals parser (`report --actuals`): any text gives actuals or a
//! file:line:column error, never a panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = archbench::cost::actuals::Actuals::parse(text, Path::new("fuzz.toml"));
    }
});
