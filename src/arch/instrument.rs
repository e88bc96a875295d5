//! Round-trip counters: every PostgreSQL statement, S3 request and HTTP hop a system
//! makes is counted against the op that caused it, split into the request path
//! (what the caller waits for) and background work (projectors run by the emulator).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::OpKind;

/// A store a round trip goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// A PostgreSQL statement (BEGIN and COMMIT count too: each is a round trip).
    Postgres,
    /// An S3 request.
    S3,
    /// An HTTP request to or from the Inngest emulator.
    Http,
}

const STORES: [Store; 3] = [Store::Postgres, Store::S3, Store::Http];

/// Lock-free counters, cheap enough for the load generator's hot path.
#[derive(Debug, Default)]
pub struct RoundTrips {
    // [op][store][0 = request path, 1 = background]
    counts: [[[AtomicU64; 2]; 3]; 7],
    ops: [AtomicU64; 7],
    // S3 writes (PUT/COPY/LIST: R2's Class A, S3's PUT tier); the rest of S3 is GET/HEAD.
    s3_writes: [AtomicU64; 7],
}

fn op_index(op: OpKind) -> usize {
    OpKind::ALL
        .iter()
        .position(|o| *o == op)
        .expect("every op is in ALL")
}

impl RoundTrips {
    /// Counts `n` round trips on the request path of `op`.
    pub fn add(&self, op: OpKind, store: Store, n: u64) {
        self.counts[op_index(op)][store as usize][0].fetch_add(n, Relaxed);
    }

    /// Counts `n` background round trips caused by `op`.
    pub fn add_background(&self, op: OpKind, store: Store, n: u64) {
        self.counts[op_index(op)][store as usize][1].fetch_add(n, Relaxed);
    }

    /// Marks `n` of `op`'s S3 round trips (already counted with [`Self::add`] or
    /// [`Self::add_background`]) as writes, which object stores bill at a higher class.
    pub fn s3_write(&self, op: OpKind, n: u64) {
        self.s3_writes[op_index(op)].fetch_add(n, Relaxed);
    }

    /// Counts one completed op (the denominator of per-op averages).
    pub fn op_done(&self, op: OpKind) {
        self.ops[op_index(op)].fetch_add(1, Relaxed);
    }

    /// Resets everything to zero (between seeding and measuring).
    pub fn clear(&self) {
        for op in &self.counts {
            for st in op {
                for c in st {
                    c.store(0, Relaxed);
                }
            }
        }
        for o in self.ops.iter().chain(&self.s3_writes) {
            o.store(0, Relaxed);
        }
    }

    /// A snapshot with per-op averages.
    pub fn snapshot(&self) -> RoundTripCounts {
        let mut per_op = BTreeMap::new();
        for op in OpKind::ALL {
            let i = op_index(op);
            let ops = self.ops[i].load(Relaxed);
            let mut entry = OpRoundTrips {
                ops,
                s3_writes: self.s3_writes[i].load(Relaxed),
                ..Default::default()
            };
            for st in STORES {
                let sync = self.counts[i][st as usize][0].load(Relaxed);
                let bg = self.counts[i][st as usize][1].load(Relaxed);
                if sync + bg > 0 {
                    entry.request_path.insert(st, sync);
                    entry.background.insert(st, bg);
                }
            }
            if ops > 0 || !entry.request_path.is_empty() {
                per_op.insert(op, entry);
            }
        }
        RoundTripCounts { per_op }
    }
}

/// Round trips of one op kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpRoundTrips {
    /// Ops completed.
    pub ops: u64,
    /// Round trips the caller waited for, per store.
    pub request_path: BTreeMap<Store, u64>,
    /// Round trips done afterwards by projectors, per store.
    pub background: BTreeMap<Store, u64>,
    /// Of the S3 round trips (both paths), how many were writes (PUT); the others were
    /// reads (GET). Absent in results written before it was counted.
    #[serde(default)]
    pub s3_writes: u64,
}

impl OpRoundTrips {
    /// Average request-path round trips per op to `store`.
    pub fn per_op(&self, store: Store) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        *self.request_path.get(&store).unwrap_or(&0) as f64 / self.ops as f64
    }

    /// Average background round trips per op to `store`.
    pub fn background_per_op(&self, store: Store) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        *self.background.get(&store).unwrap_or(&0) as f64 / self.ops as f64
    }
}

/// Snapshot of [`RoundTrips`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoundTripCounts {
    /// Per op kind.
    pub per_op: BTreeMap<OpKind, OpRoundTrips>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_split_request_path_and_background() {
        let round_trips = RoundTrips::default();
        for _ in 0..4 {
            round_trips.add(OpKind::Create, Store::Postgres, 3);
            round_trips.add(OpKind::Create, Store::Http, 1);
            round_trips.add_background(OpKind::Create, Store::S3, 2);
            round_trips.op_done(OpKind::Create);
        }
        let s = round_trips.snapshot();
        let c = &s.per_op[&OpKind::Create];
        assert_eq!(c.ops, 4);
        assert_eq!(c.per_op(Store::Postgres), 3.0);
        assert_eq!(c.per_op(Store::Http), 1.0);
        assert_eq!(c.per_op(Store::S3), 0.0);
        assert_eq!(c.background_per_op(Store::S3), 2.0);
        assert!(!s.per_op.contains_key(&OpKind::Get));
        round_trips.clear();
        assert!(round_trips.snapshot().per_op.is_empty());
    }
}
