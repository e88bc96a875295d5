//! The results reader: any bytes give a results file or an error naming the field.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = archbench::results::Results::parse(data, Path::new("fuzz.json"));
});
