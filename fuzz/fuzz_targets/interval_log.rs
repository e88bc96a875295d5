//! The HdrHistogram interval-log readers (`archbench merge`, the report's curves and
//! its latency over time).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = archbench::loadgen::interval_log::merge_interval_logs(&[data.to_vec()]);
    let _ = archbench::loadgen::interval_log::interval_log_seconds(data);
});
