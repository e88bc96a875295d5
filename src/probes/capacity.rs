//! The capacity search: the highest open-model rate a system sustains within the
//! scenario's service level (`[slo]`: each op's p99 and the share of failed ops). A
//! coarse ramp doubles the rate until a step breaks the SLO, then bisection narrows
//! the last passing and first failing rates to a stated precision. The search is a
//! pure function of the steps so far ([`Search::next`]); running a step is the
//! caller's. Each step also says what limited it (CPU, I/O, locks), read from the
//! instance's cgroup and from `pg_stat_*`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::arch::OpKind;
use crate::loadgen::record::OpRecord;
use crate::scenario::Slo;

/// Fewer samples of an op than this in a step: its p99 is not judged (too few to
/// have one; the error share still counts).
pub const MIN_SAMPLES_FOR_P99: u64 = 100;

/// How the search moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// The first rate tried, ops/s.
    pub start_rate: f64,
    /// The highest rate tried, ops/s (the generator's own ceiling is 50,000).
    pub max_rate: f64,
    /// Bisection stops when the failing rate is within this factor of the passing
    /// one (1.1: within 10%).
    pub precision: f64,
    /// At most this many steps in all.
    pub max_steps: usize,
}

impl Default for Search {
    fn default() -> Self {
        Self {
            start_rate: 25.0,
            max_rate: 50_000.0,
            precision: 1.1,
            max_steps: 16,
        }
    }
}

/// What the search asks for next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Run a step at this rate.
    Try(f64),
    /// Done: the highest passing rate (`None`: even the first step failed).
    Done(Option<f64>),
}

/// What limited a step, as far as the readings tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The CPU quota ran out (throttled) or the server used nearly all of it.
    Cpu,
    /// Backends spent much of the step waiting for reads from disk.
    Io,
    /// Backends waited on locks.
    Locks,
    /// The instance was not the limit but the machine's own cores were all busy: the
    /// harness, the delay proxy and the other stores share them, so the rig — not the
    /// design under test — ran out first, and the rate found is a lower bound.
    Machine,
    /// None of the server's readings explain it: the object store, the workflow
    /// service, the network or the harness itself.
    Elsewhere,
    /// Not read (no instance cgroup, no database).
    Unknown,
}

/// The server's readings over one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Readings {
    /// CPU time of the instance's cgroup, ns.
    pub cpu_ns: Option<u64>,
    /// Time throttled by the quota, ns.
    pub throttled_ns: Option<u64>,
    /// Share of the machine's CPU time (all cores, steal excluded) that was busy.
    #[serde(default)]
    pub machine_busy_share: Option<f64>,
    /// The quota, in vCPUs.
    pub vcpu: Option<f64>,
    /// `pg_stat_database.blk_read_time` added, ms (track_io_timing).
    pub read_wait_ms: Option<f64>,
    /// Mean share of active backends waiting on a lock (sampled).
    pub lock_wait_share: Option<f64>,
}

/// One step of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Offered rate, ops/s.
    pub rate: f64,
    /// Ops completed.
    pub ops: u64,
    /// Ops failed.
    pub errors: u64,
    /// p99 of latency per op, ms (ops with enough samples).
    pub p99_ms: BTreeMap<String, f64>,
    /// Within the SLO.
    pub pass: bool,
    /// Why not, when it failed.
    pub broke: Option<String>,
    /// The server's readings.
    pub readings: Readings,
    /// What limited it.
    pub limit: Limit,
}

/// Judges one step's records against the SLO.
pub fn judge(rate: f64, records: &BTreeMap<OpKind, OpRecord>, slo: &Slo) -> Step {
    let ops: u64 = records.values().map(|r| r.count).sum();
    let errors: u64 = records
        .values()
        .map(|r| r.errors.values().sum::<u64>())
        .sum();
    let p99_ms: BTreeMap<String, f64> = records
        .iter()
        .filter(|(_, r)| r.count >= MIN_SAMPLES_FOR_P99)
        .map(|(op, r)| {
            (
                op.name().to_string(),
                r.latency.value_at_quantile(0.99) as f64 / 1e3,
            )
        })
        .collect();
    let mut broke = Vec::new();
    let error_rate = errors as f64 / ops.max(1) as f64;
    if ops == 0 {
        broke.push("no op completed".to_string());
    } else if error_rate > slo.max_error_rate {
        broke.push(format!(
            "{:.2}% of ops failed (SLO {:.2}%)",
            error_rate * 100.0,
            slo.max_error_rate * 100.0
        ));
    }
    if let Some(limit) = slo.p99_ms {
        for (op, p99) in &p99_ms {
            if *p99 > limit {
                broke.push(format!("{op} p99 {p99:.1} ms > {limit} ms"));
            }
        }
    }
    Step {
        rate,
        ops,
        errors,
        p99_ms,
        pass: broke.is_empty(),
        broke: (!broke.is_empty()).then(|| broke.join("; ")),
        readings: Readings::default(),
        limit: Limit::Unknown,
    }
}

/// What the readings of a step say limited it.
pub fn limit(readings: &Readings, step: Duration) -> Limit {
    let seconds = step.as_secs_f64().max(1e-3);
    let cpu_share = match (readings.cpu_ns, readings.vcpu) {
        (Some(ns), Some(vcpu)) if vcpu > 0.0 => Some(ns as f64 / 1e9 / seconds / vcpu),
        _ => None,
    };
    let throttled_share = readings.throttled_ns.map(|ns| ns as f64 / 1e9 / seconds);
    if cpu_share.is_some_and(|s| s > 0.85) || throttled_share.is_some_and(|s| s > 0.2) {
        return Limit::Cpu;
    }
    if readings
        .read_wait_ms
        .is_some_and(|ms| ms / 1e3 / seconds > 0.25)
    {
        return Limit::Io;
    }
    if readings.lock_wait_share.is_some_and(|s| s > 0.2) {
        return Limit::Locks;
    }
    if readings.machine_busy_share.is_some_and(|s| s > 0.9) {
        return Limit::Machine;
    }
    if cpu_share.is_none() && readings.read_wait_ms.is_none() {
        return Limit::Unknown;
    }
    Limit::Elsewhere
}

impl Search {
    /// The next rate after `steps`: double while passing, then bisect (geometric
    /// midpoint) between the highest pass and the lowest fail above it.
    pub fn next(&self, steps: &[Step]) -> Next {
        let highest_pass = steps
            .iter()
            .filter(|s| s.pass)
            .map(|s| s.rate)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        let Some(last) = steps.last() else {
            return Next::Try(self.start_rate);
        };
        if steps.len() >= self.max_steps {
            return Next::Done(highest_pass);
        }
        let lowest_fail = steps
            .iter()
            .filter(|s| !s.pass && highest_pass.is_none_or(|p| s.rate > p))
            .map(|s| s.rate)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
        match (highest_pass, lowest_fail) {
            // Even the first rate broke the SLO: nothing below it is searched (a
            // lower start rate would).
            (None, _) => Next::Done(None),
            (Some(pass), None) => {
                if last.rate >= self.max_rate {
                    Next::Done(Some(pass))
                } else {
                    Next::Try((pass * 2.0).min(self.max_rate))
                }
            }
            (Some(pass), Some(fail)) => {
                if fail / pass <= self.precision {
                    Next::Done(Some(pass))
                } else {
                    Next::Try((pass * fail).sqrt().round().max(pass + 1.0))
                }
            }
        }
    }
}

/// One system's capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemCapacity {
    /// The system.
    pub system: String,
    /// The highest rate within the SLO, ops/s; `None` when the first step failed.
    pub sustainable_ops_per_s: Option<f64>,
    /// CPU of the instance per op at that rate, ms (cgroup time / ops).
    pub cpu_ms_per_op: Option<f64>,
    /// What limited the first failing step above it.
    pub limit: Limit,
    /// Why that step failed.
    pub broke: Option<String>,
    /// Every step in the order run.
    pub steps: Vec<Step>,
}

impl SystemCapacity {
    /// The summary of a finished search.
    pub fn of(system: &str, steps: Vec<Step>, sustainable: Option<f64>) -> Self {
        let at = steps.iter().find(|s| Some(s.rate) == sustainable && s.pass);
        let cpu_ms_per_op = at.and_then(|s| {
            let ns = s.readings.cpu_ns?;
            (s.ops > 0).then(|| ns as f64 / 1e6 / s.ops as f64)
        });
        let failing = steps
            .iter()
            .filter(|s| !s.pass && sustainable.is_none_or(|p| s.rate > p))
            .min_by(|a, b| a.rate.total_cmp(&b.rate));
        Self {
            system: system.to_string(),
            sustainable_ops_per_s: sustainable,
            cpu_ms_per_op,
            limit: failing.map_or(Limit::Unknown, |s| s.limit),
            broke: failing.and_then(|s| s.broke.clone()),
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, pass: bool) -> Step {
        Step {
            rate,
            ops: 100,
            errors: 0,
            p99_ms: BTreeMap::new(),
            pass,
            broke: None,
            readings: Readings::default(),
            limit: Limit::Unknown,
        }
    }

    /// Runs the search against a system that passes below `capacity`.
    fn search(capacity: f64) -> (Vec<Step>, Option<f64>) {
        let s = Search::default();
        let mut steps = Vec::new();
        loop {
            match s.next(&steps) {
                Next::Try(rate) => steps.push(step(rate, rate <= capacity)),
                Next::Done(found) => return (steps, found),
            }
        }
    }

    #[test]
    fn the_ramp_doubles_then_bisection_lands_within_the_precision() {
        let (steps, found) = search(730.0);
        let found = found.unwrap();
        assert!(found <= 730.0 && found * 1.1 >= 730.0, "{found}");
        // 25, 50, 100, 200, 400, 800 then bisection between 400 and 800.
        let rates: Vec<f64> = steps.iter().map(|s| s.rate).collect();
        assert_eq!(&rates[..6], &[25.0, 50.0, 100.0, 200.0, 400.0, 800.0]);
        assert!(steps.len() <= 12, "{rates:?}");
    }

    #[test]
    fn a_failing_first_step_and_the_ceiling_end_the_search() {
        assert_eq!(search(10.0).1, None);
        let (steps, found) = search(1e9);
        assert_eq!(found, Some(50_000.0));
        assert_eq!(steps.last().unwrap().rate, 50_000.0);
    }

    #[test]
    fn a_step_is_judged_on_every_ops_p99_and_the_error_share() {
        let mut records = BTreeMap::new();
        let mut fast = OpRecord::default();
        let mut slow = OpRecord::default();
        for _ in 0..200 {
            fast.latency.record(2_000).unwrap();
            slow.latency.record(90_000).unwrap();
        }
        fast.count = 200;
        slow.count = 200;
        records.insert(OpKind::Get, fast);
        records.insert(OpKind::Search, slow.clone());
        let slo = Slo {
            max_error_rate: 0.001,
            p99_ms: Some(50.0),
        };
        let s = judge(100.0, &records, &slo);
        assert!(!s.pass);
        assert!(s.broke.as_deref().unwrap().contains("search p99"), "{s:?}");
        records.remove(&OpKind::Search);
        records
            .get_mut(&OpKind::Get)
            .unwrap()
            .errors
            .insert("timeout".into(), 1);
        let s = judge(100.0, &records, &slo);
        assert!(!s.pass && s.broke.unwrap().contains("0.50% of ops failed"));
    }

    #[test]
    fn the_limit_is_read_from_the_readings() {
        let second = Duration::from_secs(1);
        let cpu = Readings {
            cpu_ns: Some(950_000_000),
            vcpu: Some(1.0),
            ..Readings::default()
        };
        assert_eq!(limit(&cpu, second), Limit::Cpu);
        let io = Readings {
            cpu_ns: Some(100_000_000),
            vcpu: Some(1.0),
            read_wait_ms: Some(600.0),
            ..Readings::default()
        };
        assert_eq!(limit(&io, second), Limit::Io);
        let locks = Readings {
            lock_wait_share: Some(0.5),
            ..io
        };
        assert_eq!(
            limit(
                &Readings {
                    read_wait_ms: Some(0.0),
                    ..locks
                },
                second
            ),
            Limit::Locks
        );
        let machine = Readings {
            cpu_ns: Some(500_000_000),
            vcpu: Some(1.0),
            read_wait_ms: Some(0.0),
            machine_busy_share: Some(0.97),
            ..Readings::default()
        };
        assert_eq!(limit(&machine, second), Limit::Machine);
        assert_eq!(
            limit(
                &Readings {
                    machine_busy_share: Some(0.6),
                    ..machine
                },
                second
            ),
            Limit::Elsewhere
        );
        assert_eq!(limit(&Readings::default(), second), Limit::Unknown);
    }
}
