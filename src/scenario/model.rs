//! The scenario model as written in TOML, and its validated form.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Problem;
use crate::arch::OpKind;

/// A duration written as `"30s"`, `"2m"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        humantime::format_duration(d.0).to_string()
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration ({e}); write a number and a unit, e.g. \"500ms\", \"30s\", \"2m\", \"1h\""
            ))
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    rng_seed: u64,
    systems: Spanned<Vec<String>>,
    seeding: Spanned<RawSeeding>,
    mix: Spanned<BTreeMap<String, Spanned<f64>>>,
    #[serde(default)]
    keys: Option<Spanned<RawKeys>>,
    #[serde(rename = "phase")]
    phases: Spanned<Vec<Spanned<RawPhase>>>,
    #[serde(default)]
    run: Option<Spanned<RawRun>>,
    #[serde(default)]
    user_behaviour: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    gate: Option<Spanned<RawGate>>,
    #[serde(default)]
    sweep: Option<Spanned<RawSweep>>,
    #[serde(default)]
    growth: Option<Spanned<RawGrowth>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrowth {
    factors: Spanned<Vec<f64>>,
    #[serde(default)]
    samples: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    users: Spanned<Vec<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    #[serde(default)]
    percentiles: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    threshold_pct: Option<Spanned<f64>>,
    #[serde(default)]
    alpha: Option<Spanned<f64>>,
    #[serde(default)]
    thresholds: Option<BTreeMap<String, Spanned<f64>>>,
}

/// The CI gate's settings (`[gate]`): which percentiles of corrected latency to
/// compare, the regression threshold, and the significance level of the test on
/// per-repetition values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateConfig {
    /// Percentile names: p50, p90, p95, p99, p999, max, mean.
    pub percentiles: Vec<String>,
    /// Default regression threshold, percent.
    pub threshold_pct: f64,
    /// Significance level of the Mann-Whitney U test.
    pub alpha: f64,
    /// Per `op` or `op.percentile` thresholds, percent (from `gate calibrate`).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            percentiles: vec!["p50".into(), "p95".into(), "p99".into()],
            threshold_pct: 10.0,
            alpha: 0.05,
            thresholds: BTreeMap::new(),
        }
    }
}

/// Percentiles the gate can compare.
pub const GATE_PERCENTILES: [&str; 7] = ["p50", "p90", "p95", "p99", "p999", "max", "mean"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeeding {
    users: Spanned<i64>,
    entities_per_user: Spanned<i64>,
    body_bytes: Spanned<RawBodyBytes>,
    versions_per_entity: Spanned<RawRange>,
    history_days: Spanned<f64>,
    #[serde(default = "default_seed_concurrency")]
    concurrency: Spanned<i64>,
}

fn default_seed_concurrency() -> Spanned<i64> {
    Spanned::new(0..0, 16)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBodyBytes {
    median: f64,
    p99: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    min: i64,
    max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    distribution: KeyDistributionKind,
    #[serde(default)]
    exponent: Option<Spanned<f64>>,
}

/// How keys are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistributionKind {
    /// Every entity alike.
    Uniform,
    /// A few hot entities (exponent ~1 is typical of content apps).
    Zipf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: String,
    model: ModelKind,
    duration: Spanned<HumanDuration>,
    #[serde(default)]
    rate: Option<Spanned<f64>>,
    #[serde(default)]
    ramp_to: Option<Spanned<f64>>,
    #[serde(default)]
    arrival: Option<Arrival>,
    #[serde(default)]
    concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    think_time: Option<HumanDuration>,
    #[serde(default)]
    record: Option<bool>,
}

/// Workload model of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Ops arrive at a rate whatever the system does (wrk2, k6 arrival-rate).
    Open,
    /// A fixed number of users, each waiting for its op before the next (YCSB threads).
    Closed,
}

/// Inter-arrival times in the open model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process).
    Poisson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    #[serde(default)]
    max_in_flight: Option<Spanned<i64>>,
    #[serde(default)]
    search_k: Option<Spanned<i64>>,
    #[serde(default)]
    list_limit: Option<Spanned<i64>>,
    #[serde(default)]
    activity_window: Option<HumanDuration>,
    #[serde(default)]
    late_after: Option<HumanDuration>,
}

/// A validated scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// SHA-256 of the file's text.
    pub hash: String,
    /// Seed of every random choice: same seed, same op sequence.
    pub rng_seed: u64,
    /// Systems to run, e.g. `v02`, `v03`, `synthetic:service=1ms`.
    pub systems: Vec<String>,
    /// What to create before measuring.
    pub seeding: Seeding,
    /// Op weights, normalised to sum 1.
    pub mix: BTreeMap<OpKind, f64>,
    /// Key popularity.
    pub keys: KeyDistribution,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// Run settings.
    pub run: RunSettings,
    /// Stated user behaviour for the cost model (kept as written).
    pub user_behaviour: BTreeMap<String, toml::Value>,
    /// CI gate settings.
    pub gate: GateConfig,
    /// Seed sizes to run one after another (`[sweep] users = [...]`); empty: just `seeding.users`.
    pub sweep_users: Vec<u64>,
    /// The event-log growth probe (`[growth]`), run after the measurements.
    pub growth: Option<GrowthProbe>,
}

/// The event-log growth probe: synthetic events of more users are added to each
/// system's event store and the time-window query is timed at each size.
#[derive(Debug, Clone, Serialize)]
pub struct GrowthProbe {
    /// Event-table sizes to reach, as multiples of the seeded size, ascending, each > 1.
    pub factors: Vec<f64>,
    /// Time-window queries timed at each size.
    pub samples: usize,
}

/// Seeding settings.
#[derive(Debug, Clone, Serialize)]
pub struct Seeding {
    /// Users.
    pub users: u64,
    /// Entities per user.
    pub entities_per_user: u64,
    /// Median body size.
    pub body_median_bytes: f64,
    /// 99th percentile body size (log-normal).
    pub body_p99_bytes: f64,
    /// Fewest versions per entity.
    pub versions_min: u32,
    /// Most versions per entity.
    pub versions_max: u32,
    /// Event history spread over this many days before now.
    pub history_days: f64,
    /// Concurrent seeding writes.
    pub concurrency: usize,
}

/// Key popularity.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KeyDistribution {
    /// Uniform or Zipf.
    pub kind: KeyDistributionKind,
    /// Zipf exponent.
    pub exponent: f64,
}

/// A validated phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Name (warm-up, steady, ramp ...).
    pub name: String,
    /// The workload model and its parameters.
    pub workload: Workload,
    /// How long.
    pub duration: Duration,
    /// Whether its ops go into the results (warm-up: false).
    pub record: bool,
}

/// Workload of a phase.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Workload {
    /// Open model.
    Open {
        /// Ops per second at the start.
        rate: f64,
        /// Ops per second at the end (linear ramp); equals `rate` when constant.
        ramp_to: f64,
        /// Inter-arrival distribution.
        arrival: Arrival,
    },
    /// Closed model.
    Closed {
        /// Concurrent users.
        concurrency: usize,
        /// Pause between a user's ops.
        think_time: Duration,
    },
}

/// Run settings.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Bound on ops in flight (open model); ops that cannot start wait and count as late.
    pub max_in_flight: usize,
    /// k of `search`.
    pub search_k: i64,
    /// Limit of `list`.
    pub list_limit: i64,
    /// Window of `activity`.
    pub activity_window: Duration,
    /// An op whose actual start is later than its intended start by more than this is late.
    pub late_after: Duration,
}

fn problem<T>(s: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) -> Problem {
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
    pub(crate) fn validate(self, hash: String) -> Result<Scenario, Problem> {
        if self.systems.get_ref().is_empty() {
            return Err(problem(
                &self.systems,
                "systems",
                "list at least one system: \"v02\", \"v03\" or \"synthetic:...\"",
            ));
        }
        for s in self.systems.get_ref() {
            if !(s == "v02" || s == "v03" || s.starts_with("synthetic")) {
                return Err(problem(
                    &self.systems,
                    "systems",
                    format!(
                        "unknown system `{s}`; allowed: \"v02\", \"v03\", \"synthetic[:key=value,...]\""
                    ),
                ));
            }
        }
        let sd = self.seeding.get_ref();
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

        let mut mix = BTreeMap::new();
        for (k, w) in self.mix.get_ref() {
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
                &self.mix,
                "mix",
                "weights sum to zero; give at least one op a weight > 0",
            ));
        }
        mix.values_mut().for_each(|w| *w /= total);
        mix.retain(|_, w| *w > 0.0);

        let keys = match &self.keys {
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

        if self.phases.get_ref().is_empty() {
            return Err(problem(&self.phases, "phase", "add at least one [[phase]]"));
        }
        let mut phases = Vec::new();
        for (i, p) in self.phases.get_ref().iter().enumerate() {
            phases.push(validate_phase(i, p)?);
        }
        if !phases.iter().any(|p| p.record) {
            return Err(problem(
                &self.phases,
                "phase",
                "every phase has record = false: nothing would be measured",
            ));
        }

        let run = match &self.run {
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
                    search_k: optional_positive(&r.search_k, "run.search_k", d.search_k as u64)?
                        as i64,
                    list_limit: optional_positive(
                        &r.list_limit,
                        "run.list_limit",
                        d.list_limit as u64,
                    )? as i64,
                    activity_window: r.activity_window.map_or(d.activity_window, |v| v.0),
                    late_after: r.late_after.map_or(d.late_after, |v| v.0),
                }
            }
        };

        Ok(Scenario {
            name: self.name,
            description: self.description,
            hash,
            rng_seed: self.rng_seed,
            systems: self.systems.into_inner(),
            seeding: Seeding {
                users,
                entities_per_user,
                body_median_bytes: bb.median,
                body_p99_bytes: bb.p99,
                versions_min: vr.min as u32,
                versions_max: vr.max as u32,
                history_days: *sd.history_days.get_ref(),
                concurrency,
            },
            mix,
            keys,
            phases,
            run,
            user_behaviour: self.user_behaviour.unwrap_or_default(),
            sweep_users: match &self.sweep {
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
            },
            growth: match &self.growth {
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
            },
            gate: match &self.gate {
                None => GateConfig::default(),
                Some(g) => validate_gate(g.get_ref())?,
            },
        })
    }
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
    Ok(GateConfig {
        percentiles,
        threshold_pct,
        alpha,
        thresholds,
    })
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            search_k: 10,
            list_limit: 50,
            activity_window: Duration::from_secs(24 * 3600),
            late_after: Duration::from_millis(10),
        }
    }
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
            Workload::Closed {
                concurrency: positive_int(c, &f("concurrency"))? as usize,
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

impl Scenario {
    /// Entities in the seed.
    pub fn seeded_entities(&self) -> u64 {
        self.seeding.users * self.seeding.entities_per_user
    }
}
