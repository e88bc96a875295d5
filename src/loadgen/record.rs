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
    error_seconds: ErrorSeconds,
    recoveries: Vec<Recovery>,
}

/// Errors per op per second since the recorder started (only seconds with errors).
pub type ErrorSeconds = BTreeMap<OpKind, BTreeMap<u64, u64>>;

/// From a store's restoration on, each op's first success.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// When the store was restored, ms since the recorder started.
    pub since_ms: u64,
    /// Per op, when it first succeeded after that (completion time, ms).
    pub first_success_ms: BTreeMap<OpKind, u64>,
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
        let at_ms = done.saturating_duration_since(self.epoch).as_millis() as u64;
        if let Err(e) = result {
            self.failed.fetch_add(1, Relaxed);
            *r.errors.entry(e.kind().to_string()).or_insert(0) += 1;
            *g.error_seconds
                .entry(op)
                .or_default()
                .entry(second)
                .or_insert(0) += 1;
            if g.samples.len() < MAX_SAMPLES {
                g.samples.push(ErrorSample {
                    at_ms,
                    op,
                    kind: e.kind().into(),
                    message: e.to_string(),
                });
            }
        }
        if result.is_ok() {
            for watch in g.recoveries.iter_mut().filter(|w| at_ms >= w.since_ms) {
                watch.first_success_ms.entry(op).or_insert(at_ms);
            }
        }
        g.intervals.record(second, op, latency);
    }

    /// When the recorder started: the zero of its seconds and milliseconds.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Starts looking for each op's first success from `since` (a store restored).
    pub fn watch_recovery(&self, since: Instant) {
        let since_ms = since.saturating_duration_since(self.epoch).as_millis() as u64;
        self.recorded
            .lock()
            .expect("recorder lock")
            .recoveries
            .push(Recovery {
                since_ms,
                first_success_ms: BTreeMap::new(),
            });
    }

    /// The recoveries watched, in the order they were asked for.
    pub fn recoveries(&self) -> Vec<Recovery> {
        self.recorded
            .lock()
            .expect("recorder lock")
            .recoveries
            .clone()
    }

    /// Errors per op per second.
    pub fn error_seconds(&self) -> ErrorSeconds {
        self.recorded
            .lock()
            .expect("recorder lock")
            .error_seconds
            .clone()
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
/// one tagged entry per op and second, readable by HdrHistogram's standard tools;
/// `key` (an agent's [`super::agent::LogKey`]) goes in a comment line of its own.
pub fn write_interval_log(
    intervals: impl IntoIterator<Item = (u64, BTreeMap<OpKind, Histogram<u64>>)>,
    start_unix_s: f64,
    key: Option<&str>,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let mut ser = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder.add_comment("archbench latency (us, from intended start) per op per second");
    if let Some(key) = key {
        builder.add_comment(key);
    }
    let mut w = builder
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::interval_log::merge_interval_logs;

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
        assert_eq!(rec.error_seconds()[&OpKind::Get], BTreeMap::from([(0, 1)]));
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
            None,
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
    fn a_recovery_is_each_ops_first_success_after_the_restore() {
        let rec = Recorder::new(Duration::from_millis(10));
        let t0 = rec.epoch();
        let at = |ms| t0 + Duration::from_millis(ms);
        let down = Err(ArchError::Setup("refused".into()));
        rec.record(OpKind::Get, at(100), at(100), at(150), &Ok(()));
        rec.watch_recovery(at(1_000));
        rec.record(OpKind::Get, at(900), at(900), at(1_100), &down);
        rec.record(OpKind::Get, at(1_200), at(1_200), at(1_250), &Ok(()));
        rec.record(OpKind::Get, at(1_300), at(1_300), at(1_320), &Ok(()));
        rec.record(OpKind::Create, at(2_000), at(2_000), at(2_400), &Ok(()));
        let recoveries = rec.recoveries();
        assert_eq!(recoveries.len(), 1);
        assert_eq!(recoveries[0].since_ms, 1_000);
        assert_eq!(
            recoveries[0].first_success_ms,
            BTreeMap::from([(OpKind::Get, 1_250), (OpKind::Create, 2_400)])
        );
        assert_eq!(rec.error_seconds()[&OpKind::Get], BTreeMap::from([(1, 1)]));
    }
}
