//! The decision document's claims and go/no-go criteria (a targets file), evaluated
//! against a run's results and its cost projections. Each line gets the measured or
//! computed value, the target, the evidence it rests on (measured, arithmetic or
//! projection), a verdict in the words that evidence allows — confirmed or refuted,
//! consistent or not reproduced, or not measurable here — with the reason, and a
//! sensitivity line: the value of the key assumption at which the verdict would flip.

mod checks;
mod claims;
mod context;
mod criteria;
mod event_log;
mod latency;
mod migration;
mod recommend;
mod scale;
mod sensitivity;
mod statements;
mod vectors;

pub use vectors::EQUAL_RECALL;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use checks::evaluate;
pub use latency::LatencyEstimate;
pub use sensitivity::{DecisionSensitivity, Triple};

/// The document's own figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentFigures {
    /// Title.
    pub title: String,
    /// Investment from the breakdown.
    pub investment_usd: f64,
    /// Investment in the header.
    pub investment_header_usd: f64,
    /// Monthly cost today.
    pub current_monthly_usd: f64,
    /// Monthly cost after.
    pub proposed_monthly_usd: f64,
    /// Claimed reduction, percent.
    pub cost_reduction_pct: f64,
    /// Claimed ROI, percent.
    pub roi_pct: f64,
    /// Claimed payback, months.
    pub payback_months: f64,
    /// Claimed latency before, ms.
    pub latency_before_ms: f64,
    /// Claimed latency after, ms.
    pub latency_after_ms: f64,
    /// Scale today.
    pub scale_from_users: u64,
    /// Scale claimed.
    pub scale_to_users: u64,
    /// Budget of the GO criterion.
    pub budget_usd: f64,
    /// Copies today.
    pub copies_before: f64,
    /// Copies after.
    pub copies_after: f64,
    /// Scalability in the summary's impact line ("10x scalability").
    pub scale_factor_headline: f64,
    /// Timeline in the header, weeks.
    pub timeline_weeks: f64,
    /// Investment breakdown: development weeks.
    pub development_weeks: f64,
    /// Investment breakdown: testing weeks.
    pub testing_weeks: f64,
    /// Investment breakdown: deployment days (five to a week).
    pub deployment_days: f64,
}

impl DocumentFigures {
    /// The document's own monthly figures through the decision arithmetic (savings,
    /// ROI, payback on the breakdown's investment).
    pub fn own_returns(&self) -> crate::cost::decision::Returns {
        use crate::cost::Usd;
        crate::cost::decision::returns(
            Usd(self.investment_usd),
            Usd(self.current_monthly_usd),
            Usd(self.proposed_monthly_usd),
        )
    }
}

/// Which evaluator judges a claim or criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Copies per item before and after.
    Copies,
    /// Events hold a reference, not the body.
    EventsReference,
    /// Time-window queries on the event log.
    TimeSeries,
    /// Executions per write.
    Inngest,
    /// Cost reduction percent.
    CostReduction,
    /// Monthly cost levels.
    CostLevels,
    /// Latency before/after.
    Latency,
    /// Users scale.
    Scale,
    /// ROI.
    Roi,
    /// Payback.
    Payback,
    /// Header vs breakdown investment.
    Investment,
    /// Budget vs investment.
    Budget,
    /// Migration risk.
    Risk,
    /// GO: more than 10K users soon.
    ScaleGo,
    /// NO-GO: fewer than 1K users.
    ScaleNogo,
    /// The summary's scalability factor against the benefits' user range.
    ScaleConsistency,
    /// The header's timeline against the investment breakdown's weeks.
    Timeline,
    /// Decision matrix #2: R2 against S3, priced.
    StorageChoice,
    /// Decision matrix #3: pgvector against Qdrant, at equal recall.
    VectorChoice,
    /// Decision matrix #4: projections, lag measured.
    Projections,
    /// Components on each op's request path.
    MovingParts,
    /// Option C: acceptable below 1K users and 1M events.
    OptionCBounds,
    /// Option C: the current cost stays.
    CurrentCost,
    /// TimescaleDB's edition on the recommended host: a risk line.
    TimescaleEdition,
    /// Bytes stored per write against the body size times the copies.
    BytesPerWrite,
    /// Decision matrix #5: the migration's pace, from a rehearsal.
    MigrationPace,
    /// The rollback plan, from a rehearsal.
    Rollback,
    /// Nothing a benchmark measures.
    NotMeasurable,
}

/// A claim of the document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Stable id.
    pub id: String,
    /// The document's words.
    pub quote: String,
    /// Evaluator.
    pub check: Check,
    /// Why not measurable, for `not_measurable`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// GO or NO-GO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriterionKind {
    /// A condition for going ahead.
    Go,
    /// A condition for not going ahead.
    NoGo,
}

/// A go/no-go line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// GO or NO-GO.
    pub kind: CriterionKind,
    /// The document's words.
    pub text: String,
    /// Evaluator.
    pub check: Check,
    /// Why not measurable, for `not_measurable`.
    pub reason: Option<String>,
}

/// A targets file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Figures.
    pub document: DocumentFigures,
    /// Claims.
    #[serde(rename = "claim")]
    pub claims: Vec<Claim>,
    /// Go/no-go criteria.
    #[serde(rename = "criterion")]
    pub criteria: Vec<Criterion>,
}

/// A targets file that cannot be used.
pub type TargetsError = crate::input::InputError;

impl Targets {
    /// Reads a targets file.
    pub fn load(path: &Path) -> Result<Targets, TargetsError> {
        let src = TargetsError::read(path)?;
        Self::parse(&src, path)
    }

    /// Parses targets text; `path` is used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<Targets, TargetsError> {
        toml::from_str(src).map_err(|e| TargetsError::toml(src, path, &e, "targets"))
    }
}

/// What a verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// This run's stores and counters.
    Measured,
    /// The document's own numbers checked against each other.
    Arithmetic,
    /// Cost or latency from measured usage plus named assumptions.
    Projection,
}

impl Evidence {
    /// As printed.
    pub fn label(self) -> &'static str {
        match self {
            Evidence::Measured => "measured",
            Evidence::Arithmetic => "arithmetic",
            Evidence::Projection => "projection",
        }
    }
}

/// The outcome of one line. The words follow the evidence: a measurement or the
/// document's own arithmetic confirms or refutes; a projection is consistent with a
/// claim or does not reproduce it — a model of a rebuild cannot refute an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A measurement or the arithmetic agrees with the claim.
    Confirmed,
    /// A measurement or the arithmetic disagrees.
    Refuted,
    /// The projection agrees with the claim.
    Consistent,
    /// The projection does not reach the claim.
    NotReproduced,
    /// A plan: an input shown at its size, not judged.
    Input,
    /// The approver's own facts or appetite: what the run contributes is shown.
    ForTheApprover,
    /// Nothing here measures it.
    NotMeasurable,
}

impl Outcome {
    /// The words `evidence` allows for agreeing or not.
    pub fn judge(evidence: Evidence, agrees: bool) -> Outcome {
        match (evidence, agrees) {
            (Evidence::Projection, true) => Outcome::Consistent,
            (Evidence::Projection, false) => Outcome::NotReproduced,
            (_, true) => Outcome::Confirmed,
            (_, false) => Outcome::Refuted,
        }
    }

    /// Whether the claim held: `None` when nothing measured it.
    pub fn held(self) -> Option<bool> {
        match self {
            Outcome::Confirmed | Outcome::Consistent => Some(true),
            Outcome::Refuted | Outcome::NotReproduced => Some(false),
            Outcome::Input | Outcome::ForTheApprover | Outcome::NotMeasurable => None,
        }
    }

    /// As printed.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Refuted => "refuted",
            Outcome::Consistent => "consistent",
            Outcome::NotReproduced => "not reproduced",
            Outcome::Input => "input (a plan)",
            Outcome::ForTheApprover => "for the approver",
            Outcome::NotMeasurable => "not measurable here",
        }
    }
}

/// One evaluated claim or criterion.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Claim id, or `go`/`no-go`.
    pub id: String,
    /// The document's words.
    pub statement: String,
    /// Measured or computed value, with units.
    pub value: String,
    /// What the document says it is.
    pub target: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why (the evidence, or why it cannot be measured).
    pub reason: String,
    /// Where the verdict flips.
    pub sensitivity: String,
    /// What the verdict rests on (`None` when nothing here measures it).
    pub evidence: Option<Evidence>,
    /// The id of the finding this verdict follows from (counted once, there).
    pub rests_on: Option<String>,
}

impl Verdict {
    /// What the line rests on, for criteria: measured, computed, or not judged here.
    pub fn basis(&self) -> &'static str {
        match (self.evidence, self.outcome) {
            (_, Outcome::Input) => "input",
            (_, Outcome::ForTheApprover) => "approver's judgement",
            (Some(Evidence::Measured), _) => "measured",
            (Some(_), _) => "computed",
            (None, _) => "not measurable here",
        }
    }

    /// Judges on `evidence`: the outcome's words are the ones it allows.
    pub(super) fn judge(&mut self, evidence: Evidence, agrees: bool) {
        self.evidence = Some(evidence);
        self.outcome = Outcome::judge(evidence, agrees);
    }
}

/// The harness's suggestion for the signature block (never ticked for the approver).
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// `A`, `B` or `C`.
    pub option: char,
    /// Why.
    pub why: String,
    /// Event database: `TimescaleDB`, `EventStoreDB` or `Keep PostgreSQL`.
    pub event_db: &'static str,
    /// `R2 Storage` or `S3 Storage`.
    pub storage: &'static str,
    /// `pgvector` or `Qdrant`.
    pub vectors: &'static str,
    /// One reason per technical suggestion.
    pub notes: Vec<String>,
    /// Where the suggested option would change, in words.
    pub flips: Vec<String>,
    /// Inputs within their ranges that change the suggestion; empty: it is robust.
    pub flips_within_ranges: Vec<String>,
}

/// An approval checklist line with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct ChecklistItem {
    /// The document's words.
    pub item: String,
    /// What this run found.
    pub evidence: String,
    /// Whether the evidence supports ticking it (`None`: for a person to decide).
    pub supported: Option<bool>,
}

/// Everything the report needs from the verdict step.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Claims.
    pub claims: Vec<Verdict>,
    /// The document's GO criteria.
    pub go_criteria: Vec<Verdict>,
    /// The document's NO-GO criteria.
    pub no_go_criteria: Vec<Verdict>,
    /// Filled checklist.
    pub checklist: Vec<ChecklistItem>,
    /// Signature ticks.
    pub recommendation: Recommendation,
    /// Latency estimate per op, for the report.
    pub latency_estimate: Vec<LatencyEstimate>,
    /// Each input that moves the decision across its range.
    pub decision_sensitivity: Vec<DecisionSensitivity>,
}

/// The first `x` in `lo..=hi` (scanned on `steps` points, log-spaced when `log`, then
/// bisected) where `f` differs from `f(lo)`; `None` when it never does.
pub fn flip_point(
    lo: f64,
    hi: f64,
    steps: usize,
    log: bool,
    f: &dyn Fn(f64) -> bool,
) -> Option<f64> {
    let at = |i: usize| {
        let t = i as f64 / steps as f64;
        if log {
            (lo.ln() + t * (hi.ln() - lo.ln())).exp()
        } else {
            lo + t * (hi - lo)
        }
    };
    let start = f(lo);
    let mut prev = lo;
    for i in 1..=steps {
        let x = at(i);
        if f(x) != start {
            let (mut a, mut b) = (prev, x);
            for _ in 0..60 {
                let m = (a + b) / 2.0;
                if f(m) == start {
                    a = m;
                } else {
                    b = m;
                }
            }
            return Some(b);
        }
        prev = x;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_point_finds_the_threshold_or_says_none() {
        let x = flip_point(0.0, 100.0, 50, false, &|v| v * 3.0 < 100.0).unwrap();
        assert!((x - 33.333_333).abs() < 1e-6, "{x}");
        let y = flip_point(1e3, 1e7, 40, true, &|u| u < 123_456.0).unwrap();
        assert!((y - 123_456.0).abs() < 1e-3, "{y}");
        assert_eq!(flip_point(0.0, 1.0, 10, false, &|_| true), None);
    }

    #[test]
    fn the_repository_targets_load() {
        let t =
            Targets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/decision-doc.toml"))
                .unwrap();
        assert_eq!(t.document.investment_usd, 18_500.0);
        assert!(t.claims.len() >= 10 && t.criteria.len() == 10);
    }

    #[test]
    fn a_bad_targets_file_names_line_and_field() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.toml");
        std::fs::write(&p, "[document]\ntitle = \"x\"\n\n[[claim]]\nid = \"a\"\nquote = \"q\"\ncheck = \"vibes\"\n").unwrap();
        let e = Targets::load(&p).unwrap_err().to_string();
        assert!(e.contains("t.toml:") && e.contains("vibes"), "{e}");
    }
}

/// Verdicts counted as findings: a verdict that rests on another is not a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Measured: confirmed, refuted.
    pub measured: (usize, usize),
    /// Arithmetic: confirmed, refuted.
    pub arithmetic: (usize, usize),
    /// Projection findings: consistent, not reproduced.
    pub projection: (usize, usize),
    /// Verdicts that follow from a finding counted above.
    pub dependent: usize,
    /// Plans and the approver's own lines, shown with what the run contributes.
    pub for_the_approver: usize,
    /// Not measurable here.
    pub not_measurable: usize,
}

impl Tally {
    /// Counts `verdicts`.
    pub fn of(verdicts: &[Verdict]) -> Tally {
        let mut t = Tally::default();
        for v in verdicts {
            if v.rests_on.is_some() {
                t.dependent += 1;
                continue;
            }
            if matches!(v.outcome, Outcome::Input | Outcome::ForTheApprover) {
                t.for_the_approver += 1;
                continue;
            }
            let held = v.outcome.held() == Some(true);
            let slot = match v.evidence {
                Some(Evidence::Measured) => &mut t.measured,
                Some(Evidence::Arithmetic) => &mut t.arithmetic,
                Some(Evidence::Projection) => &mut t.projection,
                None => {
                    t.not_measurable += 1;
                    continue;
                }
            };
            if held {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "measured {} confirmed, {} refuted; arithmetic {} confirmed, {} refuted; projection {} consistent, {} not reproduced; {} for the approver; {} not measurable here; {} more follow from a finding and are not counted again",
            self.measured.0,
            self.measured.1,
            self.arithmetic.0,
            self.arithmetic.1,
            self.projection.0,
            self.projection.1,
            self.for_the_approver,
            self.not_measurable,
            self.dependent
        )
    }
}
