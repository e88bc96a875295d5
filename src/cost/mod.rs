//! Money: the price catalogue (`pricing/*.toml`), the usage model that turns a results
//! file and stated user behaviour into monthly usage per component, the monthly
//! projections per deployment and user tier, and the decision arithmetic (savings,
//! ROI, payback). Every price comes from the catalogue and every assumption is a named
//! field printed in the report.

pub mod actuals;
pub mod calibration;
pub mod catalogue;
mod component;
pub mod decision;
mod profiles;
mod projection;
mod usage;

pub use component::{Component, ComponentGroup};
pub use profiles::{
    Assumptions, CostModel, Deployment, EventHost, ModelError, ObjectHost, PostgresHost,
    VectorHost, WorkflowPlan,
};
pub use projection::{CostLine, CostReport, Projection, project};
pub use usage::{
    ComputeSizing, MeasuredCapacity, MonthlyUsage, UnitUsage, UsageCurve, UsageField,
    UserBehaviour, monthly_usage,
};

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Serialize};

/// US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usd(pub f64);

impl Add for Usd {
    type Output = Usd;
    fn add(self, o: Usd) -> Usd {
        Usd(self.0 + o.0)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, o: Usd) {
        self.0 += o.0;
    }
}

impl Sub for Usd {
    type Output = Usd;
    fn sub(self, o: Usd) -> Usd {
        Usd(self.0 - o.0)
    }
}

impl fmt::Display for Usd {
    /// Whole dollars with thousands separators above 100, cents below.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.abs() >= 100.0 {
            let out = crate::numbers::thousands(v.abs().round() as u64);
            write!(f, "{}${out}", if v < 0.0 { "-" } else { "" })
        } else {
            write!(f, "{}${:.2}", if v < 0.0 { "-" } else { "" }, v.abs())
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod usd_tests {
    use super::*;

    #[test]
    fn dollars_print_as_people_write_them() {
        assert_eq!(Usd(11_600.0).to_string(), "$11,600");
        assert_eq!(Usd(131_040.4).to_string(), "$131,040");
        assert_eq!(Usd(1_234_567.0).to_string(), "$1,234,567");
        assert_eq!(Usd(0.5).to_string(), "$0.50");
        assert_eq!(Usd(-2_500.0).to_string(), "-$2,500");
        assert_eq!(Usd(680.0).to_string(), "$680");
    }
}
