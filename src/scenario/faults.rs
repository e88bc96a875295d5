//! Validation of `[[fault]]` and `[slo]`: faults name a target and an action archbench
//! knows, fall inside the measured phases with time left to recover, and do not
//! overlap on one target; the error budget is a share in [0, 1].

use toml::Spanned;

use super::Problem;
use super::model::{Phase, Slo, measured_duration};
use super::raw::{RawFault, RawSlo};
use super::validate::problem;
use crate::rig::faults::{Fault, FaultAction, FaultTarget};

/// Each fault checked, in file order.
pub(super) fn validate_faults(
    raw: &[Spanned<RawFault>],
    phases: &[Phase],
) -> Result<Vec<Fault>, Problem> {
    let measured = measured_duration(phases);
    let mut faults: Vec<Fault> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let f = f.get_ref();
        let field = |name: &str| format!("fault[{i}].{name}");
        let target = FaultTarget::ALL
            .into_iter()
            .find(|t| t.name() == f.target.get_ref())
            .ok_or_else(|| {
                let names = FaultTarget::ALL.map(FaultTarget::name).join(", ");
                let message = format!("unknown target `{}`; one of: {names}", f.target.get_ref());
                problem(&f.target, field("target"), message)
            })?;
        let action = FaultAction::ALL
            .into_iter()
            .find(|a| a.name() == f.action.get_ref())
            .ok_or_else(|| {
                let names = FaultAction::ALL.map(FaultAction::name).join(", ");
                let message = format!("unknown action `{}`; one of: {names}", f.action.get_ref());
                problem(&f.action, field("action"), message)
            })?;
        let (at, down_for) = (f.at.get_ref().0, f.down_for.get_ref().0);
        if down_for.is_zero() {
            return Err(problem(&f.down_for, field("for"), "must be above zero"));
        }
        if at + down_for >= measured {
            let message = format!(
                "the fault ends at {} into the measured phases, which last {}: leave time to see the recovery",
                humantime::format_duration(at + down_for),
                humantime::format_duration(measured)
            );
            return Err(problem(&f.at, field("at"), message));
        }
        let fault = Fault {
            target,
            action,
            at,
            down_for,
        };
        if let Some(other) = faults
            .iter()
            .find(|o| o.target == target && o.at < at + down_for && at < o.at + o.down_for)
        {
            let message = format!(
                "overlaps `{}` on the same target; one fault at a time per target",
                other.describe()
            );
            return Err(problem(&f.at, field("at"), message));
        }
        faults.push(fault);
    }
    Ok(faults)
}

/// The error budget, a share of measured ops in [0, 1].
pub(super) fn validate_slo(raw: Option<&Spanned<RawSlo>>) -> Result<Option<Slo>, Problem> {
    let Some(slo) = raw else {
        return Ok(None);
    };
    let rate = &slo.get_ref().max_error_rate;
    if !(0.0..=1.0).contains(rate.get_ref()) {
        return Err(problem(
            rate,
            "slo.max_error_rate",
            format!(
                "must be a share of ops within 0..=1 (0.01 is 1%), got {}",
                rate.get_ref()
            ),
        ));
    }
    let p99_ms = match &slo.get_ref().p99_ms {
        None => None,
        Some(p) if p.get_ref().is_finite() && *p.get_ref() > 0.0 && *p.get_ref() <= 3_600_000.0 => {
            Some(*p.get_ref())
        }
        Some(p) => {
            return Err(problem(
                p,
                "slo.p99_ms",
                format!(
                    "must be a latency in ms, > 0 and at most an hour, got {}",
                    p.get_ref()
                ),
            ));
        }
    };
    Ok(Some(Slo {
        max_error_rate: *rate.get_ref(),
        p99_ms,
    }))
}
