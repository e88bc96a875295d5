//! Recording: one HdrHistogram per op for latency (from the intended start) and one
//! for service time (from the actual start), errors by kind with timestamps, schedule
//! lag and late starts, and one-second interval histograms for the interval log.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::arch::{ArchError, OpKind};

/// Lowest and highest recordable values: 1 µs to 60 s, 3 significant digits.
const LOW_US: u64 = 1;
const HIGH_US: u64 = 60_000_000;

/// A new histogram with archbench's range.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOW_US, HIGH_US, 3).expect("static bounds are valid")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(LOW_US, HIGH_US)
}

/// Percentiles of a histogram, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 95th.
    pub p95: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// From a histogram (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// One failed op.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorSample {
    /// Milliseconds since the recorder started.
    pub at_ms: u64,
    /// The op.
    pub op: OpKind,
    /// Error kind (`postgres`, `s3`, ...).
    pub kind: String,
    /// The message.
    pub message: String,
}

/// What one op kind recorded.
#[derive(Debug, Clone)]
pub struct OpRecord {
    /// Latency from the intended start.
    pub latency: Histogram<u64>,
    /// Service time from the actual start.
    pub service: Histogram<u64>,
    /// Start minus intended start.
    pub schedule_lag: Histogram<u64>,
    /// Ops completed (errors included).
    pub count: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Ops that started later than `late_after` after their intended start.
    pub late: u64,
}

impl Default for OpRecord {
    fn default() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            schedule_lag: histogram(),
            count: 0,
            errors: BTreeMap::new(),
            late: 0,
        }
    }
}

/// Interval histograms: for each second since the start, latency per op.
pub type Intervals = BTreeMap<u64, BTreeMap<OpKind, Histogram<u64>>>;

#[derive(Default)]
struct Recorded {
    ops: BTreeMap<OpKind, OpRecord>,
    samples: Vec<ErrorSample>,
    intervals: IntervalStore,
}

/// Per-second histograms of one recorder. A histogram with archbench's range takes
/// about 220 KB whatever it holds; the two most recent seconds stay live and older
/// ones are kept compressed (V2 + deflate, a few hundred bytes), so memory grows by
/// kilobytes per second of run, not by the full histogram.
#[derive(Default)]
struct IntervalStore {
    live: Intervals,
    compressed: BTreeMap<u64, BTreeMap<OpKind, Vec<u8>>>,
}

impl IntervalStore {
    fn record(&mut self, second: u64, op: OpKind, latency: u64) {
        if let Some(closed) = self.compressed.get_mut(&second) {
            // A straggler for a second already closed: rare, so decoded and re-encoded.
            let mut h = closed.get(&op).map_or_else(histogram, |b| decode(b));
            h.saturating_record(latency);
            closed.insert(op, encode(&h));
            return;
        }
        self.live
            .entry(second)
            .or_default()
            .entry(op)
            .or_insert_with(histogram)
            .saturating_record(latency);
        while let Some(oldest) = self.live.keys().next().copied() {
            if oldest + 2 > second {
                break;
            }
            let per_op = self.live.remove(&oldest).unwrap_or_default();
            let encoded = per_op.iter().map(|(op, h)| (*op, encode(h))).collect();
            self.compressed.insert(oldest, encoded);
        }
    }

    fn seconds(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .compressed
            .keys()
            .chain(self.live.keys())
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    fn second(&self, second: u64) -> BTreeMap<OpKind, Histogram<u64>> {
        match self.compressed.get(&second) {
            Some(closed) => closed.iter().map(|(op, b)| (*op, decode(b))).collect(),
            None => self.live.get(&second).cloned().unwrap_or_default(),
        }
    }
}

fn encode(h: &Histogram<u64>) -> Vec<u8> {
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("a histogram serialises into memory");
    bytes
}

fn decode(bytes: &[u8]) -> Histogram<u64> {
    use hdrhistogram::serialization::Deserializer;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("bytes this recorder encoded")
}

/// Thread-safe recorder for one system and one repetition.
pub struct Recorder {
    recorded: Mutex<Recorded>,
    epoch: Instant,
    late_after: Duration,
    done: AtomicU64,
    failed: AtomicU64,
}

/// Error samples kept per recorder (the counts are complete; the samples are for reading).
const MAX_SAMPLES: usize = 200;

impl Recorder {
    /// A recorder whose interval clock starts now.
    pub fn new(late_after: Duration) -> Self {
        Self {
            recorded: Mutex::default(),
            epoch: Instant::now(),
            late_after,
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Records one op.
    pub fn record(
        &self,
        op: OpKind,
        intended: Instant,
        started: Instant,
        done: Instant,
        result: &Result<(), ArchError>,
    ) {
        let latency = us(done.saturating_duration_since(intended));
        let service = us(done.saturating_duration_since(started));
        let lag = started.saturating_duration_since(intended);
        let second = done.saturating_duration_since(self.epoch).as_secs();
        self.done.fetch_add(1, Relaxed);
        let mut g = self.recorded.lock().expect("recorder lock");
        let r = g.ops.entry(op).or_default();
        r.latency.saturating_record(latency);
        r.service.saturating_record(service);
        r.schedule_lag.saturating_record(us(lag));
        r.count += 1;
        if lag > self.late_after {
            r.late += 1;
        }
        if let Err(e) = result {
            self.failed.fetch_add(1, Relaxed);
            *r.errors.entry(e.kind().to_string()).or_insert(0) += 1;
            if g.samples.len() < MAX_SAMPLES {
                let at_ms = done.saturating_duration_since(self.epoch).as_millis() as u64;
                g.samples.push(ErrorSample {
                    at_ms,
                    op,
                    kind: e.kind().into(),
                    message: e.to_string(),
                });
            }
        }
        g.intervals.record(second, op, latency);
    }

    /// Ops recorded so far, and how many failed.
    pub fn progress(&self) -> (u64, u64) {
        (self.done.load(Relaxed), self.failed.load(Relaxed))
    }

    /// p99 latency so far over all ops, µs.
    pub fn p99_so_far(&self) -> u64 {
        let g = self.recorded.lock().expect("recorder lock");
        let mut all = histogram();
        for r in g.ops.values() {
            let _ = all.add(&r.latency);
        }
        if all.is_empty() {
            0
        } else {
            all.value_at_quantile(0.99)
        }
    }

    /// Per op, and the first failures.
    pub fn snapshot(&self) -> (BTreeMap<OpKind, OpRecord>, Vec<ErrorSample>) {
        let g = self.recorded.lock().expect("recorder lock");
        (g.ops.clone(), g.samples.clone())
    }

    /// Seconds (since this recorder was made) that hold ops, in order.
    pub fn interval_seconds(&self) -> Vec<u64> {
        self.recorded
            .lock()
            .expect("recorder lock")
            .intervals
            .seconds()
    }

    /// Latency per op in one second.
    pub fn interval(&self, second: u64) -> BTreeMap<OpKind, Histogram<u64>> {
        self.recorded
            .lock()
            .expect("recorder lock")
            .intervals
            .second(second)
    }
}

/// Writes interval histograms in the HdrHistogram interval log format (V2, compressed),
/// one tagged entry per op and second, readable by HdrHistogram's standard tools.
pub fn write_interval_log(
    intervals: impl IntoIterator<Item = (u64, BTreeMap<OpKind, Histogram<u64>>)>,
    start_unix_s: f64,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment("archbench latency (us, from intended start) per op per second")
        .with_start_time(std::time::UNIX_EPOCH + Duration::from_secs_f64(start_unix_s))
        .with_base_time(std::time::UNIX_EPOCH + Duration::from_secs_f64(start_unix_s))
        .with_max_value_divisor(1.0)
        .begin_log_with(out, &mut ser)
        .map_err(std::io::Error::other)?;
    for (second, per_op) in intervals {
        for (op, h) in &per_op {
            let tag = Tag::new(op.name()).expect("op names have no spaces or commas");
            w.write_histogram(
                h,
                Duration::from_secs(second),
                Duration::from_secs(1),
                Some(tag),
            )
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
    Ok(())
}

/// Reads interval logs (from runs or agents) and merges them into one histogram per tag.
pub fn merge_interval_logs(inputs: &[Vec<u8>]) -> Result<BTreeMap<String, Histogram<u64>>, String> {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut de = Deserializer::new();
    for (i, bytes) in inputs.iter().enumerate() {
        for entry in IntervalLogIterator::new(bytes) {
            let entry =
                entry.map_err(|e| format!("input {}: not an interval log: {e:?}", i + 1))?;
            if let LogEntry::Interval(ih) = entry {
                let b64 = ih.encoded_histogram();
                let raw = base64_decode(b64).map_err(|e| format!("input {}: {e}", i + 1))?;
                check_header(&raw).map_err(|e| format!("input {}: {e}", i + 1))?;
                // The decoder's arithmetic can overflow on hostile counts (a panic where
                // overflow checks are on): an unreadable histogram, not a crash.
                let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    de.deserialize(&mut raw.as_slice())
                }))
                .map_err(|_| format!("input {}: a histogram the decoder cannot read", i + 1))?;
                let h: Histogram<u64> = decoded.map_err(|e| format!("input {}: {e:?}", i + 1))?;
                let tag = ih
                    .tag()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "untagged".into());
                if !out.contains_key(&tag) && out.len() >= MAX_TAGS {
                    return Err(format!(
                        "input {}: more than {MAX_TAGS} tags; archbench logs have one per op",
                        i + 1
                    ));
                }
                out.entry(tag)
                    .or_insert_with(histogram)
                    .add(&h)
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
    }
    Ok(out)
}

/// Distinct tags a merge keeps: each is a histogram of about 220 KB.
const MAX_TAGS: usize = 64;
/// Counts a decoded histogram may have (8 bytes each): archbench's own have ~28,000.
const MAX_COUNTS: u64 = 1 << 22;

/// Reads the header of an encoded histogram (V2, or V2 compressed) and refuses one
/// whose range would make decoding it allocate more than [`MAX_COUNTS`] counts: the
/// decoder sizes its array from the header before it reads a single count.
fn check_header(raw: &[u8]) -> Result<(), String> {
    const V2: u32 = 0x1c84_9303;
    const V2_COMPRESSED: u32 = 0x1c84_9304;
    let cookie = raw
        .get(..4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
        .ok_or("a histogram shorter than its cookie")?
        // The decoder ignores the word-size nibble.
        & !0xf0;
    let mut header = [0u8; 40];
    match cookie {
        V2 => header.copy_from_slice(raw.get(..40).ok_or("a histogram header cut short")?),
        V2_COMPRESSED => {
            use std::io::Read;
            let mut inflate = flate2::read::ZlibDecoder::new(raw.get(8..).unwrap_or_default());
            inflate
                .read_exact(&mut header)
                .map_err(|e| format!("a compressed histogram header: {e}"))?;
        }
        // Not a format the decoder reads: let it say so.
        _ => return Ok(()),
    }
    let field = |at: usize| i64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let payload = i32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
    let digits = i32::from_be_bytes(header[12..16].try_into().expect("4 bytes"));
    let (lowest, highest) = (field(16).max(1) as u64, field(24).max(0) as u64);
    if !(0..=5).contains(&digits) || highest < 2 * lowest {
        return Err(format!(
            "a histogram header with {digits} significant digits and range {lowest}..{highest}"
        ));
    }
    // As HdrHistogram sizes it: sub-buckets for the precision, buckets for the range.
    let sub_buckets = (2.0 * 10f64.powi(digits)).log2().ceil().exp2();
    let buckets = ((highest as f64 / lowest as f64).log2() - sub_buckets.log2() + 2.0).max(1.0);
    let counts = (buckets + 1.0) * sub_buckets / 2.0;
    if counts > MAX_COUNTS as f64 {
        return Err(format!(
            "a histogram of range {lowest}..{highest} at {digits} digits needs {counts:.0} counts, more than {MAX_COUNTS}"
        ));
    }
    // The decoder allocates the payload length it is told; no honest payload is longer
    // than every count in its longest encoding (9 bytes).
    if payload < 0 || payload as f64 > counts * 9.0 {
        return Err(format!(
            "a histogram payload of {payload} bytes for {counts:.0} counts"
        ));
    }
    Ok(())
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("bad base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_counts_from_the_intended_start_and_service_from_the_actual() {
        let rec = Recorder::new(Duration::from_millis(10));
        let t0 = Instant::now();
        let started = t0 + Duration::from_millis(50);
        let done = started + Duration::from_millis(5);
        rec.record(OpKind::Get, t0, started, done, &Ok(()));
        rec.record(
            OpKind::Get,
            t0,
            t0,
            t0 + Duration::from_millis(2),
            &Err(ArchError::Setup("x".into())),
        );
        let (ops, samples) = rec.snapshot();
        let g = &ops[&OpKind::Get];
        assert_eq!(g.count, 2);
        assert_eq!(g.late, 1);
        assert_eq!(g.errors["setup"], 1);
        assert_eq!(samples.len(), 1);
        let lat = Percentiles::of(&g.latency);
        let svc = Percentiles::of(&g.service);
        assert!((54_900..=55_100).contains(&lat.max), "{lat:?}");
        assert!((4_990..=5_010).contains(&svc.max), "{svc:?}");
    }

    #[test]
    fn interval_logs_round_trip_and_merge() {
        let rec = Recorder::new(Duration::from_millis(10));
        let t0 = Instant::now();
        for i in 0..100 {
            rec.record(
                OpKind::Get,
                t0,
                t0,
                t0 + Duration::from_micros(100 + i),
                &Ok(()),
            );
            rec.record(OpKind::List, t0, t0, t0 + Duration::from_millis(3), &Ok(()));
        }
        let seconds = rec.interval_seconds();
        let mut a = Vec::new();
        write_interval_log(
            seconds.iter().map(|s| (*s, rec.interval(*s))),
            1_700_000_000.0,
            &mut a,
        )
        .unwrap();
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(text.contains("#[StartTime: 1700000000"), "{text}");
        assert!(text.contains("Tag=get,"), "{text}");
        let merged = merge_interval_logs(&[a.clone(), a]).unwrap();
        assert_eq!(merged["get"].len(), 200);
        assert_eq!(merged["list"].len(), 200);
        assert!(
            merge_interval_logs(&[b"not a log\n".to_vec()])
                .map(|m| m.is_empty())
                .unwrap_or(true)
        );
    }

    #[test]
    fn seconds_two_behind_are_compressed_and_read_back_whole() {
        let rec = Recorder::new(Duration::from_millis(10));
        let t0 = rec.epoch;
        for second in 0..10u64 {
            for i in 0..50u64 {
                let done = t0 + Duration::from_secs(second) + Duration::from_micros(100 + i);
                rec.record(OpKind::Get, done, done, done, &Ok(()));
            }
        }
        // A straggler for second 0, recorded after it was compressed.
        rec.record(OpKind::List, t0, t0, t0 + Duration::from_millis(3), &Ok(()));
        {
            let g = rec.recorded.lock().unwrap();
            assert_eq!(g.intervals.live.len(), 2, "only the last two seconds live");
            assert_eq!(g.intervals.compressed.len(), 8);
            let bytes: usize = g
                .intervals
                .compressed
                .values()
                .flat_map(|m| m.values())
                .map(Vec::len)
                .sum();
            assert!(bytes < 8 * 2_000, "{bytes} bytes for 8 compressed seconds");
        }
        assert_eq!(rec.interval_seconds(), (0..10).collect::<Vec<_>>());
        let first = rec.interval(0);
        assert_eq!(first[&OpKind::Get].len(), 50);
        assert_eq!(first[&OpKind::List].len(), 1);
        assert_eq!(rec.interval(9)[&OpKind::Get].len(), 50);
    }

    #[test]
    fn a_histogram_header_asking_for_gigabytes_is_refused_before_decoding() {
        // Found by `cargo fuzz run interval_log` (2.4 GB before the check).
        let crash = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/interval_log/oom-460c0a34aa512736322770e4391bb864e6d8f959"),
        )
        .unwrap();
        let e = merge_interval_logs(&[crash]).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
        // And one whose payload length says 2.4 GB.
        let crash = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/interval_log/oom-fea12e5d21d168ffbad7a76b415db2d5ab7cd5a0"),
        )
        .unwrap();
        let e = merge_interval_logs(&[crash]).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
        // And counts whose decoding overflows (a panic inside the decoder).
        let crash =
            std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
                "fuzz/regressions/interval_log/crash-570a78fbe5e45e323fef8f82102dbf3e7f3dfc5e",
            ))
            .unwrap();
        assert!(merge_interval_logs(&[crash]).is_err());
        // archbench's own histograms pass the same check.
        let h = histogram();
        assert!(check_header(&encode(&h)).is_ok());
    }
}
