//! Validation: raw TOML to the validated model, each problem naming its span and
//! field and saying what is allowed. Checks run in file order, so the first problem
//! reported is the first in the file.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::Problem;
use super::model::*;
use super::raw::*;
use crate::arch::OpKind;

pub(super) fn problem<T>(
    s: &Spanned<T>,
    field: impl Into<String>,
    message: impl Into<String>,
) -> Problem {
    Problem {
        span: s.span(),
        field: field.into(),
        message: message.into(),
    }
}

/// Finite and above zero (NaN is neither).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// `default` when absent, else the value if it is a whole number > 0.
fn optional_positive(s: &Option<Spanned<i64>>, field: &str, default: u64) -> Result<u64, Problem> {
    s.as_ref().map_or(Ok(default), |v| positive_int(v, field))
}

fn positive_int(s: &Spanned<i64>, field: &str) -> Result<u64, Problem> {
    if *s.get_ref() <= 0 {
        return Err(problem(
            s,
            field,
            format!("must be a whole number > 0, got {}", s.get_ref()),
        ));
    }
    Ok(*s.get_ref() as u64)
}

impl RawScenario {
    /// The validated scenario, or the first problem in file order.
    pub(crate) fn validate(self, hash: String) -> Result<Scenario, Problem> {
        validate_systems(&self.systems)?;
        let seeding = validate_seeding(&self.seeding)?;
        let mix = validate_mix(&self.mix)?;
        let keys = validate_keys(self.keys.as_ref())?;
        let phases = validate_phases(&self.phases)?;
        let run = validate_run(self.run.as_ref())?;
        let sweep_users = validate_sweep(self.sweep.as_ref())?;
        let growth = validate_growth(self.growth.as_ref())?;
        let search_quality =
            super::probes::validate_search_quality(self.search_quality.as_ref(), &seeding)?;
        let event_log = super::probes::validate_event_log(self.event_log.as_ref())?;
        let faults = super::faults::validate_faults(&self.faults, &phases)?;
        let slo = super::faults::validate_slo(self.slo.as_ref())?;
        let http = super::http::validate_http(self.http.as_ref())?;
        let gate = match &self.gate {
            None => GateConfig::default(),
            Some(g) => validate_gate(g.get_ref())?,
        };
        Ok(Scenario {
            name: self.name,
            description: self.description,
            hash,
            rng_seed: self.rng_seed,
            systems: self.systems.into_inner(),
            seeding,
            mix,
            keys,
            phases,
            run,
            user_behaviour: self.user_behaviour.unwrap_or_default(),
            gate,
            sweep_users,
            growth,
            search_quality,
            event_log,
            faults,
            slo,
            instance: self.instance.map(|p| p.name),
            network: self.network.map(|p| p.name),
            http,
        })
    }
}

/// At least one system, each a name archbench knows (the one parser of system names).
fn validate_systems(systems: &Spanned<Vec<String>>) -> Result<(), Problem> {
    if systems.get_ref().is_empty() {
        return Err(problem(
            systems,
            "systems",
            "list at least one system: \"v02\", \"v03\", \"synthetic:...\" or \"http:NAME=BASE_URL\"",
        ));
    }
    for s in systems.get_ref() {
        crate::arch::SystemKind::parse(s).map_err(|e| problem(systems, "systems", e.reason()))?;
    }
    Ok(())
}

/// Positive counts, 1 <= median <= p99 bodies, 1 <= min <= max versions.
fn validate_seeding(seeding: &Spanned<RawSeeding>) -> Result<Seeding, Problem> {
    let sd = seeding.get_ref();
    let users = positive_int(&sd.users, "seeding.users")?;
    let entities_per_user = positive_int(&sd.entities_per_user, "seeding.entities_per_user")?;
    let bb = sd.body_bytes.get_ref();
    if !(bb.median >= 1.0 && bb.p99 >= bb.median) {
        return Err(problem(
            &sd.body_bytes,
            "seeding.body_bytes",
            format!(
                "needs 1 <= median <= p99, got median {} and p99 {}",
                bb.median, bb.p99
            ),
        ));
    }
    if bb.p99 > MAX_BODY_BYTES {
        return Err(problem(
            &sd.body_bytes,
            "seeding.body_bytes.p99",
            format!(
                "at most {MAX_BODY_BYTES} bytes (16 MiB), got {}: every op in flight holds its body whole",
                bb.p99
            ),
        ));
    }
    let vr = sd.versions_per_entity.get_ref();
    if !(vr.min >= 1 && vr.max >= vr.min) {
        return Err(problem(
            &sd.versions_per_entity,
            "seeding.versions_per_entity",
            format!(
                "needs 1 <= min <= max, got min {} and max {}",
                vr.min, vr.max
            ),
        ));
    }
    if !positive(*sd.history_days.get_ref()) {
        return Err(problem(
            &sd.history_days,
            "seeding.history_days",
            format!("must be > 0 days, got {}", sd.history_days.get_ref()),
        ));
    }
    let concurrency = positive_int(&sd.concurrency, "seeding.concurrency")? as usize;
    Ok(Seeding {
        users,
        entities_per_user,
        body_median_bytes: bb.median,
        body_p99_bytes: bb.p99,
        versions_min: vr.min as u32,
        versions_max: vr.max as u32,
        history_days: *sd.history_days.get_ref(),
        concurrency,
    })
}

/// Known ops with weights >= 0, normalised to sum 1; zero weights dropped.
fn validate_mix(
    mix_raw: &Spanned<BTreeMap<String, Spanned<f64>>>,
) -> Result<BTreeMap<OpKind, f64>, Problem> {
    let mut mix = BTreeMap::new();
    for (k, w) in mix_raw.get_ref() {
        let op = crate::arch::OpKind::ALL
            .into_iter()
            .find(|o| o.name() == k)
            .ok_or_else(|| {
                problem(
                    w,
                    format!("mix.{k}"),
                    "unknown op; allowed: create, update, get, list, search, history, activity",
                )
            })?;
        if !(w.get_ref().is_finite() && *w.get_ref() >= 0.0) {
            return Err(problem(
                w,
                format!("mix.{k}"),
                format!("weight must be >= 0, got {}", w.get_ref()),
            ));
        }
        mix.insert(op, *w.get_ref());
    }
    let total: f64 = mix.values().sum();
    if total <= 0.0 {
        return Err(problem(
            mix_raw,
            "mix",
            "weights sum to zero; give at least one op a weight > 0",
        ));
    }
    mix.values_mut().for_each(|w| *w /= total);
    mix.retain(|_, w| *w > 0.0);
    Ok(mix)
}

/// Uniform, or Zipf with an exponent > 0.
fn validate_keys(keys_raw: Option<&Spanned<RawKeys>>) -> Result<KeyDistribution, Problem> {
    let keys = match keys_raw {
        None => KeyDistribution {
            kind: KeyDistributionKind::Uniform,
            exponent: 0.0,
        },
        Some(k) => {
            let raw = k.get_ref();
            match (raw.distribution, &raw.exponent) {
                (KeyDistributionKind::Zipf, Some(e))
                    if *e.get_ref() > 0.0 && e.get_ref().is_finite() =>
                {
                    KeyDistribution {
                        kind: KeyDistributionKind::Zipf,
                        exponent: *e.get_ref(),
                    }
                }
                (KeyDistributionKind::Zipf, Some(e)) => {
                    return Err(problem(
                        e,
                        "keys.exponent",
                        format!("must be > 0, got {}", e.get_ref()),
                    ));
                }
                (KeyDistributionKind::Zipf, None) => {
                    return Err(problem(
                        k,
                        "keys.exponent",
                        "zipf needs an exponent, e.g. 0.99",
                    ));
                }
                (KeyDistributionKind::Uniform, Some(e)) => {
                    return Err(problem(e, "keys.exponent", "only zipf takes an exponent"));
                }
                (KeyDistributionKind::Uniform, None) => KeyDistribution {
                    kind: KeyDistributionKind::Uniform,
                    exponent: 0.0,
                },
            }
        }
    };
    Ok(keys)
}

/// At least one phase, and at least one measured.
fn validate_phases(phases_raw: &Spanned<Vec<Spanned<RawPhase>>>) -> Result<Vec<Phase>, Problem> {
    if phases_raw.get_ref().is_empty() {
        return Err(problem(phases_raw, "phase", "add at least one [[phase]]"));
    }
    let mut phases: Vec<Phase> = Vec::new();
    for (i, p) in phases_raw.get_ref().iter().enumerate() {
        let phase = validate_phase(i, p)?;
        // Progress lines and results name phases: two of one name cannot be told apart.
        if let Some(first) = phases.iter().position(|q| q.name == phase.name) {
            return Err(problem(
                p,
                format!("phase[{i}].name"),
                format!(
                    "`{}` is already the name of phase[{first}]; give each phase its own name",
                    phase.name
                ),
            ));
        }
        phases.push(phase);
    }
    if !phases.iter().any(|p| p.record) {
        return Err(problem(
            phases_raw,
            "phase",
            "every phase has record = false: nothing would be measured",
        ));
    }
    Ok(phases)
}

/// Writes timed for projection lag: 1 to 1,000 (each is a write and polls until
/// visible, one after another).
fn lag_writes(r: &RawRun, default: usize) -> Result<usize, Problem> {
    let writes = optional_positive(&r.lag_writes, "run.lag_writes", default as u64)?;
    if writes > 1000 {
        let at = r
            .lag_writes
            .as_ref()
            .expect("a value above the default was given");
        return Err(problem(
            at,
            "run.lag_writes",
            format!("at most 1000 writes, got {writes}"),
        ));
    }
    Ok(writes as usize)
}

/// Run settings, each defaulted when absent.
fn validate_run(run_raw: Option<&Spanned<RawRun>>) -> Result<RunSettings, Problem> {
    let run = match run_raw {
        None => RunSettings::default(),
        Some(r) => {
            let r = r.get_ref();
            let d = RunSettings::default();
            RunSettings {
                max_in_flight: optional_positive(
                    &r.max_in_flight,
                    "run.max_in_flight",
                    d.max_in_flight as u64,
                )? as usize,
                search_k: optional_positive(&r.search_k, "run.search_k", d.search_k as u64)? as i64,
                list_limit: optional_positive(&r.list_limit, "run.list_limit", d.list_limit as u64)?
                    as i64,
                activity_window: r.activity_window.map_or(d.activity_window, |v| v.0),
                late_after: r.late_after.map_or(d.late_after, |v| v.0),
                lag_writes: lag_writes(r, d.lag_writes)?,
            }
        }
    };
    Ok(run)
}

/// Seed sizes of a sweep, each > 0.
fn validate_sweep(sweep: Option<&Spanned<RawSweep>>) -> Result<Vec<u64>, Problem> {
    let users = match sweep {
        None => Vec::new(),
        Some(sw) => {
            let u = &sw.get_ref().users;
            if u.get_ref().is_empty() || u.get_ref().iter().any(|n| *n <= 0) {
                return Err(problem(
                    u,
                    "sweep.users",
                    "list one or more user counts, each > 0",
                ));
            }
            u.get_ref().iter().map(|n| *n as u64).collect()
        }
    };
    Ok(users)
}

/// Ascending growth factors in (1, 1000], 10..=100000 samples.
fn validate_growth(growth: Option<&Spanned<RawGrowth>>) -> Result<Option<GrowthProbe>, Problem> {
    let probe = match growth {
        None => None,
        Some(g) => {
            let g = g.get_ref();
            let f = g.factors.get_ref();
            if f.is_empty()
                || f.iter()
                    .any(|x| !(x.is_finite() && *x > 1.0 && *x <= 1000.0))
                || f.windows(2).any(|w| w[1] <= w[0])
            {
                return Err(problem(
                    &g.factors,
                    "growth.factors",
                    "list ascending multiples of the seeded event count, each in (1, 1000]",
                ));
            }
            let samples = match &g.samples {
                Some(n) if !(10..=100_000).contains(n.get_ref()) => {
                    return Err(problem(
                        n,
                        "growth.samples",
                        format!("must be within 10..=100000, got {}", n.get_ref()),
                    ));
                }
                Some(n) => *n.get_ref() as usize,
                None => 200,
            };
            Some(GrowthProbe {
                factors: f.clone(),
                samples,
            })
        }
    };
    Ok(probe)
}

fn validate_gate(g: &RawGate) -> Result<GateConfig, Problem> {
    let d = GateConfig::default();
    let percentiles = match &g.percentiles {
        None => d.percentiles,
        Some(p) => {
            if let Some(bad) = p
                .get_ref()
                .iter()
                .find(|x| !GATE_PERCENTILES.contains(&x.as_str()))
            {
                return Err(problem(
                    p,
                    "gate.percentiles",
                    format!(
                        "unknown percentile `{bad}`; allowed: {}",
                        GATE_PERCENTILES.join(", ")
                    ),
                ));
            }
            if p.get_ref().is_empty() {
                return Err(problem(
                    p,
                    "gate.percentiles",
                    "name at least one percentile",
                ));
            }
            p.get_ref().clone()
        }
    };
    let threshold_pct = match &g.threshold_pct {
        Some(t) if !positive(*t.get_ref()) => {
            return Err(problem(
                t,
                "gate.threshold_pct",
                format!("must be > 0 percent, got {}", t.get_ref()),
            ));
        }
        Some(t) => *t.get_ref(),
        None => d.threshold_pct,
    };
    let alpha = match &g.alpha {
        Some(a) if !(positive(*a.get_ref()) && *a.get_ref() < 0.5) => {
            return Err(problem(
                a,
                "gate.alpha",
                format!("must be in (0, 0.5), got {}", a.get_ref()),
            ));
        }
        Some(a) => *a.get_ref(),
        None => d.alpha,
    };
    let mut thresholds = BTreeMap::new();
    for (k, v) in g.thresholds.iter().flatten() {
        let (op, pct) = k
            .split_once('.')
            .map_or((k.as_str(), None), |(o, p)| (o, Some(p)));
        if !crate::arch::OpKind::ALL.iter().any(|o| o.name() == op)
            || pct.is_some_and(|p| !GATE_PERCENTILES.contains(&p))
        {
            return Err(problem(
                v,
                format!("gate.thresholds.{k}"),
                "key must be `op` or `op.percentile`, e.g. `create` or `create.p99`",
            ));
        }
        if !positive(*v.get_ref()) {
            return Err(problem(
                v,
                format!("gate.thresholds.{k}"),
                format!("must be > 0 percent, got {}", v.get_ref()),
            ));
        }
        thresholds.insert(k.clone(), *v.get_ref());
    }
    let mut run_to_run = BTreeMap::new();
    for (k, v) in g.run_to_run.iter().flatten() {
        let field = format!("gate.run_to_run.{k}");
        if !GATE_PERCENTILES.contains(&k.as_str()) {
            return Err(problem(
                v,
                field,
                format!("key must be a percentile: {}", GATE_PERCENTILES.join(", ")),
            ));
        }
        let spread = *v.get_ref();
        if !(spread.is_finite() && (0.0..=200.0).contains(&spread)) {
            return Err(problem(
                v,
                field,
                format!("must be a spread from 0 to 200 percent, got {spread}"),
            ));
        }
        run_to_run.insert(k.clone(), spread);
    }
    Ok(GateConfig {
        percentiles,
        threshold_pct,
        alpha,
        thresholds,
        run_to_run,
    })
}

fn validate_phase(i: usize, p: &Spanned<RawPhase>) -> Result<Phase, Problem> {
    let r = p.get_ref();
    let f = |name: &str| format!("phase[{i}].{name}");
    let duration = r.duration.get_ref().0;
    if duration.is_zero() {
        return Err(problem(
            &r.duration,
            f("duration"),
            "must be longer than zero",
        ));
    }
    let workload = match r.model {
        ModelKind::Open => {
            if let Some(c) = &r.concurrency {
                return Err(problem(
                    c,
                    f("concurrency"),
                    "an open-model phase is driven by `rate`, not `concurrency` (that is the closed model)",
                ));
            }
            if r.think_time.is_some() {
                return Err(problem(
                    p,
                    f("think_time"),
                    "think_time belongs to the closed model",
                ));
            }
            let rate = r.rate.as_ref().ok_or_else(|| {
                problem(
                    p,
                    f("rate"),
                    "an open-model phase needs `rate` (ops per second)",
                )
            })?;
            if !positive(*rate.get_ref()) {
                return Err(problem(
                    rate,
                    f("rate"),
                    format!("must be > 0 ops/s, got {}", rate.get_ref()),
                ));
            }
            for (name, value) in [("rate", Some(rate)), ("ramp_to", r.ramp_to.as_ref())] {
                if let Some(v) = value.filter(|v| *v.get_ref() > MAX_RATE) {
                    return Err(problem(
                        v,
                        f(name),
                        format!(
                            "at most {MAX_RATE} ops/s, the load generator's ceiling on this kind of machine, got {}: beyond it the run measures the generator, not the system",
                            v.get_ref()
                        ),
                    ));
                }
            }
            let ramp_to = match &r.ramp_to {
                Some(t) if !positive(*t.get_ref()) => {
                    return Err(problem(
                        t,
                        f("ramp_to"),
                        format!("must be > 0 ops/s, got {}", t.get_ref()),
                    ));
                }
                Some(t) => *t.get_ref(),
                None => *rate.get_ref(),
            };
            Workload::Open {
                rate: *rate.get_ref(),
                ramp_to,
                arrival: r.arrival.unwrap_or_default(),
            }
        }
        ModelKind::Closed => {
            for (name, present) in [
                ("rate", r.rate.is_some()),
                ("ramp_to", r.ramp_to.is_some()),
                ("arrival", r.arrival.is_some()),
            ] {
                if present {
                    return Err(problem(
                        p,
                        f(name),
                        format!(
                            "`{name}` belongs to the open model; a closed-model phase takes `concurrency` and `think_time`"
                        ),
                    ));
                }
            }
            let c = r.concurrency.as_ref().ok_or_else(|| {
                problem(
                    p,
                    f("concurrency"),
                    "a closed-model phase needs `concurrency`",
                )
            })?;
            let concurrency = positive_int(c, &f("concurrency"))?;
            if concurrency > MAX_CONCURRENCY {
                return Err(problem(
                    c,
                    f("concurrency"),
                    format!("at most {MAX_CONCURRENCY} users, got {concurrency}"),
                ));
            }
            Workload::Closed {
                concurrency: concurrency as usize,
                think_time: r.think_time.map_or(Duration::ZERO, |t| t.0),
            }
        }
    };
    Ok(Phase {
        name: r.name.clone(),
        workload,
        duration,
        record: r.record.unwrap_or(true),
    })
}
