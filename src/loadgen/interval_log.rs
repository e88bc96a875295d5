//! Reading HdrHistogram interval logs (from runs or agents) back into one histogram per
//! tag. The logs may come from anywhere, so every encoded histogram is checked the way
//! the decoder will read it before it is decoded: the decoder trusts its input's sizes
//! and arithmetic.

use std::collections::BTreeMap;
use std::io::Read;

use hdrhistogram::Histogram;

use crate::loadgen::record::histogram;

/// Distinct tags a merge keeps: each is a histogram of about 220 KB.
const MAX_TAGS: usize = 64;
/// Counts a decoded histogram may have (8 bytes each): archbench's own have ~28,000.
const MAX_COUNTS: u64 = 1 << 22;
/// Bytes of one encoded histogram's header, after the cookie of a compressed one.
const HEADER_BYTES: usize = 40;

/// Reads interval logs and merges them into one histogram per tag.
pub fn merge_interval_logs(inputs: &[Vec<u8>]) -> Result<BTreeMap<String, Histogram<u64>>, String> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (i, bytes) in inputs.iter().enumerate() {
        each_histogram(bytes, &mut |tag, _, h| {
            if !out.contains_key(tag) && out.len() >= MAX_TAGS {
                return Err(format!(
                    "more than {MAX_TAGS} tags; archbench logs have one per op"
                ));
            }
            out.entry(tag.to_string())
                .or_insert_with(histogram)
                .add(h)
                .map_err(|e| format!("{e:?}"))
        })
        .map_err(|e| format!("input {}: {e}", i + 1))?;
    }
    Ok(out)
}

/// Reads one interval log into one histogram per whole second of its clock, every tag
/// merged: latency over time.
pub fn interval_log_seconds(bytes: &[u8]) -> Result<BTreeMap<u64, Histogram<u64>>, String> {
    let mut out: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    each_histogram(bytes, &mut |_, start_s, h| {
        // A second past a day is no archbench log: refused rather than kept.
        if !(0.0..86_400.0).contains(&start_s) {
            return Err(format!("an interval starting at {start_s} s"));
        }
        out.entry(start_s as u64)
            .or_insert_with(histogram)
            .add(h)
            .map_err(|e| format!("{e:?}"))
    })?;
    Ok(out)
}

/// What [`each_histogram`] calls: tag, start in seconds, histogram.
type EachHistogram<'a> = dyn FnMut(&str, f64, &Histogram<u64>) -> Result<(), String> + 'a;

/// Calls `each` with every interval's tag, start (seconds on the log's clock) and
/// histogram, each checked before it is decoded.
fn each_histogram(bytes: &[u8], each: &mut EachHistogram<'_>) -> Result<(), String> {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| format!("not an interval log: {e:?}"))?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        let raw = base64_decode(interval.encoded_histogram())?;
        check_histogram(&raw)?;
        let h: Histogram<u64> = de
            .deserialize(&mut raw.as_slice())
            .map_err(|e| format!("{e:?}"))?;
        let tag = interval.tag().map_or("untagged", |t| t.as_str());
        each(tag, interval.start_timestamp().as_secs_f64(), &h)?;
    }
    Ok(())
}

/// Refuses an encoded histogram (V2, or V2 compressed) that would make the decoder
/// allocate without bound or panic. Other formats pass: the decoder refuses them.
fn check_histogram(raw: &[u8]) -> Result<(), String> {
    const V2: u32 = 0x1c84_9303;
    const V2_COMPRESSED: u32 = 0x1c84_9304;
    let cookie = raw
        .get(..4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
        .ok_or("a histogram shorter than its cookie")?
        // The decoder ignores the word-size nibble.
        & !0xf0;
    let mut header = [0u8; HEADER_BYTES];
    match cookie {
        V2 => {
            let (head, payload) = raw
                .split_at_checked(HEADER_BYTES)
                .ok_or("a histogram header cut short")?;
            header.copy_from_slice(head);
            let length = check_header(&header)?;
            check_counts(&mut payload.take(length as u64))
        }
        V2_COMPRESSED => {
            // The decoder inflates only the length the outer header gives.
            let deflated = raw
                .get(4..8)
                .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
                .ok_or("a compressed histogram without its length")?;
            let deflated = raw.get(8..).unwrap_or_default().take(deflated.into());
            let mut inflate = flate2::read::ZlibDecoder::new(deflated);
            inflate
                .read_exact(&mut header)
                .map_err(|e| format!("a compressed histogram header: {e}"))?;
            let length = check_header(&header)?;
            check_counts(&mut inflate.take(length as u64))
        }
        _ => Ok(()),
    }
}

/// Checks a header's precision, range and payload length; returns the payload length.
/// The decoder sizes its count array from the range, and allocates the payload length
/// it is told, before it reads a single count.
fn check_header(header: &[u8; HEADER_BYTES]) -> Result<u32, String> {
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
    // No honest payload is longer than every count in its longest encoding (9 bytes).
    if payload < 0 || payload as f64 > counts * 9.0 {
        return Err(format!(
            "a histogram payload of {payload} bytes for {counts:.0} counts"
        ));
    }
    Ok(payload as u32)
}

/// Walks the payload's counts as the decoder reads them (LEB128 of up to 9 bytes, the
/// ninth taken whole, then zig-zag) and refuses the one value whose decoding is
/// `i64::MIN`: the decoder negates a negative value to get a run of zeros, and that
/// negation overflows. A payload cut short is left for the decoder to refuse.
fn check_counts(payload: &mut dyn Read) -> Result<(), String> {
    let mut bytes = std::io::BufReader::new(payload).bytes();
    let mut index = 0u64;
    'counts: loop {
        let mut value = 0u64;
        for shift in (0..8).map(|i| 7 * i) {
            let Some(Ok(b)) = bytes.next() else {
                return Ok(());
            };
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                index += 1;
                continue 'counts;
            }
        }
        let Some(Ok(last)) = bytes.next() else {
            return Ok(());
        };
        value |= u64::from(last) << 56;
        if value == u64::MAX {
            return Err(format!(
                "a histogram whose count {index} decodes to −2⁶³, which the decoder cannot negate"
            ));
        }
        index += 1;
    }
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
    use std::path::Path;

    fn fuzz_input(path: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    fn encoded(h: &Histogram<u64>, compressed: bool) -> Vec<u8> {
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
        let mut bytes = Vec::new();
        if compressed {
            V2DeflateSerializer::new().serialize(h, &mut bytes).unwrap();
        } else {
            V2Serializer::new().serialize(h, &mut bytes).unwrap();
        }
        bytes
    }

    #[test]
    fn a_histogram_header_asking_for_gigabytes_is_refused_before_decoding() {
        // Found by `cargo fuzz run interval_log` (2.4 GB before the check).
        let crash =
            fuzz_input("fuzz/corpus/interval_log/oom-460c0a34aa512736322770e4391bb864e6d8f959");
        let e = merge_interval_logs(&[crash]).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
        // And one whose payload length says 2.4 GB.
        let crash =
            fuzz_input("fuzz/corpus/interval_log/oom-fea12e5d21d168ffbad7a76b415db2d5ab7cd5a0");
        let e = merge_interval_logs(&[crash]).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
    }

    #[test]
    fn a_count_the_decoder_would_negate_into_overflow_is_refused() {
        // Found by `cargo fuzz run interval_log`: a panic inside the decoder.
        let crash =
            fuzz_input("fuzz/corpus/interval_log/crash-570a78fbe5e45e323fef8f82102dbf3e7f3dfc5e");
        let e = merge_interval_logs(&[crash]).unwrap_err();
        assert!(e.contains("cannot negate"), "{e}");
        // The same count made by hand, in both encodings: a histogram whose payload
        // is one count of nine 0xff bytes.
        let mut h = histogram();
        h.record(5).unwrap();
        for compressed in [false, true] {
            let mut raw = encoded(&histogram(), false);
            raw[4..8].copy_from_slice(&9u32.to_be_bytes());
            raw.truncate(HEADER_BYTES);
            raw.extend([0xff; 9]);
            if compressed {
                use std::io::Write;
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
                z.write_all(&raw).unwrap();
                let deflated = z.finish().unwrap();
                raw = 0x1c84_9314u32.to_be_bytes().to_vec();
                raw.extend((deflated.len() as u32).to_be_bytes());
                raw.extend(deflated);
            }
            let e = check_histogram(&raw).unwrap_err();
            assert!(e.contains("count 0"), "{e}");
        }
        // archbench's own histograms, either encoding, pass the same check.
        assert!(check_histogram(&encoded(&h, false)).is_ok());
        assert!(check_histogram(&encoded(&h, true)).is_ok());
    }

    #[test]
    fn a_log_reads_back_as_latency_per_second() {
        use crate::arch::OpKind;
        let second = |values: &[u64]| {
            let mut h = histogram();
            values.iter().for_each(|v| h.record(*v).unwrap());
            h
        };
        let intervals = [
            (0, BTreeMap::from([(OpKind::Get, second(&[100, 200]))])),
            (
                3,
                BTreeMap::from([
                    (OpKind::Get, second(&[5_000])),
                    (OpKind::Create, second(&[9_000])),
                ]),
            ),
        ];
        let mut log = Vec::new();
        crate::loadgen::record::write_interval_log(intervals, 1_700_000_000.0, None, &mut log)
            .unwrap();
        let seconds = interval_log_seconds(&log).unwrap();
        assert_eq!(seconds.keys().copied().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(seconds[&0].len(), 2);
        assert_eq!(seconds[&3].len(), 2, "both ops of second 3 merged");
        assert!(interval_log_seconds(b"#[StartTime: x]\n1,2").is_err());
    }
}
