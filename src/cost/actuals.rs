//! Actuals: what a team knows of production for one month — the bill, in total or per
//! component, and usage from the providers' dashboards — read from a TOML file
//! (`deployments/actuals-example.toml` documents it). The calibration compares the
//! model with it; this module only reads and checks the file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Usd;
use super::catalogue::Unit;
use super::component::Component;
use crate::input::InputError;

/// One month of production, as far as it is known.
#[derive(Debug, Clone, Serialize)]
pub struct Actuals {
    /// The file read.
    pub file: String,
    /// Where the figures come from (an invoice, a dashboard, the document).
    pub source: String,
    /// Active users the month covers: the size the model is compared at.
    pub users: u64,
    /// The month covered, as written (`2026-10`).
    pub month: Option<String>,
    /// The whole monthly bill.
    pub total: Option<Usd>,
    /// Per component: its bill line and/or its usage.
    pub components: Vec<ActualComponent>,
}

/// One component of the bill.
#[derive(Debug, Clone, Serialize)]
pub struct ActualComponent {
    /// Which.
    pub component: Component,
    /// What the bill charged for it.
    pub usd: Option<Usd>,
    /// Usage, in `unit`.
    pub usage: Option<f64>,
    /// The unit of `usage`.
    pub unit: Option<Unit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActuals {
    source: Spanned<String>,
    users: Spanned<i64>,
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    total_usd: Option<Spanned<f64>>,
    #[serde(default, rename = "component")]
    components: Vec<Spanned<RawComponent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    name: Spanned<String>,
    #[serde(default)]
    usd: Option<Spanned<f64>>,
    #[serde(default)]
    usage: Option<Spanned<f64>>,
    #[serde(default)]
    unit: Option<Spanned<String>>,
}

/// A figure archbench would not believe: finite and at least zero.
fn amount(v: &Spanned<f64>) -> Option<f64> {
    let x = *v.get_ref();
    (x.is_finite() && x >= 0.0).then_some(x)
}

impl Actuals {
    /// Reads an actuals file.
    pub fn load(path: &Path) -> Result<Actuals, InputError> {
        Actuals::parse(&InputError::read(path)?, path)
    }

    /// Parses actuals text; `path` names the file in errors.
    pub fn parse(src: &str, path: &Path) -> Result<Actuals, InputError> {
        let at = |span: std::ops::Range<usize>, field: String, message: String| {
            InputError::at(src, path, span.start, field, message)
        };
        let raw: RawActuals =
            toml::from_str(src).map_err(|e| InputError::toml(src, path, &e, "actuals"))?;
        if raw.source.get_ref().trim().is_empty() {
            let message = "say where the figures come from (an invoice, a dashboard)".into();
            return Err(at(raw.source.span(), "source".into(), message));
        }
        let users = *raw.users.get_ref();
        if users <= 0 {
            let message = format!("must be the active users the month covers, > 0; got {users}");
            return Err(at(raw.users.span(), "users".into(), message));
        }
        let total = match &raw.total_usd {
            Some(t) => Some(Usd(amount(t).ok_or_else(|| {
                let message = format!("must be an amount ≥ 0, got {}", t.get_ref());
                at(t.span(), "total_usd".into(), message)
            })?)),
            None => None,
        };
        let mut components: Vec<ActualComponent> = Vec::new();
        for (i, c) in raw.components.iter().enumerate() {
            let parsed = component(c.get_ref(), i, &at)?;
            if components.iter().any(|o| o.component == parsed.component) {
                let message = format!("`{}` is listed twice", c.get_ref().name.get_ref());
                return Err(at(
                    c.get_ref().name.span(),
                    format!("component[{i}].name"),
                    message,
                ));
            }
            if parsed.usd.is_none() && parsed.usage.is_none() {
                let message = "give `usd`, `usage` with its `unit`, or both".into();
                return Err(at(c.span(), format!("component[{i}]"), message));
            }
            components.push(parsed);
        }
        if total.is_none() && components.is_empty() {
            let message = "give `total_usd`, one or more [[component]], or both".into();
            return Err(at(raw.users.span(), "total_usd".into(), message));
        }
        Ok(Actuals {
            file: path.display().to_string(),
            source: raw.source.into_inner(),
            users: users as u64,
            month: raw.month,
            total,
            components,
        })
    }

    /// The actual line of `component`, when the file has one.
    pub fn component(&self, component: Component) -> Option<&ActualComponent> {
        self.components.iter().find(|c| c.component == component)
    }
}

type At<'a> = dyn Fn(std::ops::Range<usize>, String, String) -> InputError + 'a;

fn component(c: &RawComponent, i: usize, at: &At<'_>) -> Result<ActualComponent, InputError> {
    let field = |name: &str| format!("component[{i}].{name}");
    let name = c.name.get_ref();
    let which = Component::ALL
        .into_iter()
        .find(|k| k.id() == name)
        .ok_or_else(|| {
            let ids: Vec<&str> = Component::ALL.iter().map(|k| k.id()).collect();
            let message = format!("unknown component `{name}`; one of: {}", ids.join(", "));
            at(c.name.span(), field("name"), message)
        })?;
    let usd = match &c.usd {
        Some(u) => Some(Usd(amount(u).ok_or_else(|| {
            let message = format!("must be an amount ≥ 0, got {}", u.get_ref());
            at(u.span(), field("usd"), message)
        })?)),
        None => None,
    };
    let usage = match &c.usage {
        Some(u) => Some(amount(u).ok_or_else(|| {
            let message = format!("must be a quantity ≥ 0, got {}", u.get_ref());
            at(u.span(), field("usage"), message)
        })?),
        None => None,
    };
    let allowed = which.usage_units();
    let spelled = || {
        allowed
            .iter()
            .map(|u| format!("`{u}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let unit = match (&c.unit, &c.usage) {
        (Some(u), _) => {
            let unit = Unit::parse(u.get_ref()).filter(|x| allowed.contains(x));
            Some(unit.ok_or_else(|| {
                let message = format!(
                    "`{}` does not measure {name}; its usage is in {}",
                    u.get_ref(),
                    spelled()
                );
                at(u.span(), field("unit"), message)
            })?)
        }
        (None, Some(u)) => {
            let message = format!("a usage needs its unit: {}", spelled());
            return Err(at(u.span(), field("unit"), message));
        }
        (None, None) => None,
    };
    Ok(ActualComponent {
        component: which,
        usd,
        usage,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        Actuals::parse(src, Path::new("deployments/a.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_bill_and_usage_are_read() {
        let a = Actuals::parse(
            "source = \"invoice 2026-10\"\nusers = 10000\nmonth = \"2026-10\"\ntotal_usd = 11600\n\n\
             [[component]]\nname = \"inngest_executions\"\nusd = 9000\nusage = 180\nunit = \"million executions\"\n\n\
             [[component]]\nname = \"postgres_compute\"\nusage = 730\nunit = \"CU-hour\"\n",
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!((a.users, a.total), (10_000, Some(Usd(11_600.0))));
        let e = a.component(Component::InngestExecutions).unwrap();
        assert_eq!(
            (e.usd, e.usage, e.unit),
            (
                Some(Usd(9_000.0)),
                Some(180.0),
                Some(Unit::MillionExecutions)
            )
        );
        assert_eq!(
            a.component(Component::PostgresCompute).unwrap().unit,
            Some(Unit::CuHour)
        );
        assert!(a.component(Component::ObjectEgress).is_none());
    }

    #[test]
    fn bad_actuals_name_file_line_column_and_field() {
        let head = "source = \"x\"\nusers = 10\n";
        let e = err(&format!("{head}[[component]]\nname = \"redis\"\nusd = 1\n"));
        assert!(e.contains("deployments/a.toml:4:8: component[0].name: unknown component `redis`; one of: postgres_compute"), "{e}");
        let e = err(&format!(
            "{head}[[component]]\nname = \"object_egress\"\nusd = -5\n"
        ));
        assert!(
            e.contains("a.toml:5:7: component[0].usd: must be an amount ≥ 0, got -5"),
            "{e}"
        );
        let e = err(&format!(
            "{head}[[component]]\nname = \"postgres_storage\"\nusage = 40\nunit = \"GB\"\n"
        ));
        assert!(e.contains(":6:8: component[0].unit: `GB` does not measure postgres_storage; its usage is in `GB-month`"), "{e}");
        let e = err(&format!(
            "{head}[[component]]\nname = \"object_egress\"\nusage = 4\n"
        ));
        assert!(
            e.contains("component[0].unit: a usage needs its unit: `GB`"),
            "{e}"
        );
        let e = err(&format!("{head}total_usd = -1\n"));
        assert!(e.contains(":3:13: total_usd: must be an amount ≥ 0"), "{e}");
        let e = err("source = \"x\"\nusers = 0\ntotal_usd = 5\n");
        assert!(e.contains(":2:9: users: must be the active users"), "{e}");
        let e = err(head);
        assert!(
            e.contains("give `total_usd`, one or more [[component]]"),
            "{e}"
        );
        let e = err(&format!("{head}total_usd = 5\nbill = 3\n"));
        assert!(e.contains("unknown field `bill`"), "{e}");
        let e = err(&format!(
            "{head}[[component]]\nname = \"inngest_plan\"\nusd = 75\n[[component]]\nname = \"inngest_plan\"\nusd = 75\n"
        ));
        assert!(
            e.contains("component[1].name: `inngest_plan` is listed twice"),
            "{e}"
        );
    }
}
