//! The HdrHistogram interval-log reader (`archbench merge`, the report's curves).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = archbench::loadgen::interval_log::merge_interval_logs(&[data.to_vec()]);
});
