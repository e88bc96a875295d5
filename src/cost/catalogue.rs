//! The price catalogue: `pricing/*.toml`, one provider per file, every price with its
//! amount, unit, public source and the date it was read. A price without a source or a
//! date is refused; a line without a public price says so and is never given a number.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Usd;
use crate::input::InputError;

/// The unit a price is quoted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Storage held for a month, per GB (10^9 bytes).
    #[serde(rename = "GB-month")]
    GbMonth,
    /// Per GB transferred.
    #[serde(rename = "GB")]
    Gb,
    /// Per million requests.
    #[serde(rename = "million requests")]
    MillionRequests,
    /// Per thousand requests.
    #[serde(rename = "1000 requests")]
    ThousandRequests,
    /// Per compute-unit hour (Neon).
    #[serde(rename = "CU-hour")]
    CuHour,
    /// Per instance hour.
    #[serde(rename = "hour")]
    Hour,
    /// Per month, flat (a plan's base fee).
    #[serde(rename = "month")]
    Month,
    /// Per million executions (Inngest).
    #[serde(rename = "million executions")]
    MillionExecutions,
}

impl Unit {
    /// Every unit, as catalogue files spell them.
    pub const ALL: [Unit; 8] = [
        Unit::GbMonth,
        Unit::Gb,
        Unit::MillionRequests,
        Unit::ThousandRequests,
        Unit::CuHour,
        Unit::Hour,
        Unit::Month,
        Unit::MillionExecutions,
    ];

    /// The unit spelled `s`.
    pub fn parse(s: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.to_string() == s)
    }

    /// How many raw units (bytes, requests, hours, executions) one billed unit holds.
    pub fn scale(self) -> f64 {
        match self {
            Unit::GbMonth | Unit::Gb => 1e9,
            Unit::MillionRequests | Unit::MillionExecutions => 1e6,
            Unit::ThousandRequests => 1e3,
            Unit::CuHour | Unit::Hour | Unit::Month => 1.0,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::GbMonth => "GB-month",
            Unit::Gb => "GB",
            Unit::MillionRequests => "million requests",
            Unit::ThousandRequests => "1000 requests",
            Unit::CuHour => "CU-hour",
            Unit::Hour => "hour",
            Unit::Month => "month",
            Unit::MillionExecutions => "million executions",
        })
    }
}

/// Whether a figure was read on the provider's own page or only elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The provider's pricing page or docs.
    Primary,
    /// A secondary source: to be confirmed against the provider's page.
    Secondary,
}

/// One catalogue line.
#[derive(Debug, Clone, Serialize)]
pub struct Price {
    /// Stable id, e.g. `r2.class_a`.
    pub id: String,
    /// Provider, from the file.
    pub provider: String,
    /// What is billed.
    pub item: String,
    /// Amount per unit; `None` when not publicly priced.
    pub usd: Option<Usd>,
    /// Why there is no amount (e.g. "not publicly priced").
    pub unpriced: Option<String>,
    /// Billing unit.
    pub unit: Option<Unit>,
    /// Allowance per month before billing starts, in billed units.
    pub free: f64,
    /// Whether usage is rounded up to the next whole billed unit.
    pub round_up: bool,
    /// Units included by a plan's base fee (e.g. executions of Inngest Pro).
    pub included: f64,
    /// vCPUs of an instance size or compute unit.
    pub vcpu: Option<f64>,
    /// Memory of an instance size or compute unit, GB.
    pub ram_gb: Option<f64>,
    /// Public page the figure was read from.
    pub source: String,
    /// When it was read: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub read: String,
    /// Primary or secondary source.
    pub confidence: Confidence,
    /// Remarks printed with the line.
    pub note: Option<String>,
    /// Catalogue file it came from.
    pub file: PathBuf,
}

/// A catalogue that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// An unreadable or malformed catalogue file.
    #[error(transparent)]
    File(#[from] InputError),
    /// The catalogue directory cannot be listed.
    #[error("{}: cannot list the price catalogue directory: {source}", .path.display())]
    Dir {
        /// Directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A price the cost model needs is not in the catalogue.
    #[error("price `{id}` is not in the catalogue ({dir}); add it with its source and date")]
    Missing {
        /// Price id.
        id: String,
        /// Catalogue directory.
        dir: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    provider: String,
    #[serde(rename = "price")]
    prices: Vec<Spanned<RawPrice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    id: Spanned<String>,
    item: String,
    usd: Option<Spanned<f64>>,
    unpriced: Option<String>,
    unit: Option<Spanned<String>>,
    free: Option<Spanned<f64>>,
    #[serde(default)]
    round_up: bool,
    included: Option<Spanned<f64>>,
    vcpu: Option<f64>,
    ram_gb: Option<f64>,
    source: Spanned<String>,
    read: Spanned<String>,
    confidence: Confidence,
    note: Option<String>,
}

/// Where prices come from: the seam the cost model reads through.
pub trait PriceSource {
    /// The line with `id`.
    fn price(&self, id: &str) -> Result<&Price, CatalogueError>;
    /// Every line, for the report's price table.
    fn all(&self) -> Vec<&Price>;
}

/// All prices of a `pricing/` directory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalogue {
    /// Directory read.
    pub dir: String,
    /// By id.
    pub prices: BTreeMap<String, Price>,
}

impl PriceSource for Catalogue {
    fn price(&self, id: &str) -> Result<&Price, CatalogueError> {
        self.prices.get(id).ok_or_else(|| CatalogueError::Missing {
            id: id.into(),
            dir: self.dir.clone(),
        })
    }

    fn all(&self) -> Vec<&Price> {
        self.prices.values().collect()
    }
}

impl Catalogue {
    /// Reads every `*.toml` of `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<Catalogue, CatalogueError> {
        let io = |source| CatalogueError::Dir {
            path: dir.into(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        let mut cat = Catalogue {
            dir: dir.display().to_string(),
            prices: BTreeMap::new(),
        };
        for f in files {
            let src = InputError::read(&f)?;
            for p in parse(&src, &f)? {
                cat.prices.insert(p.id.clone(), p);
            }
        }
        Ok(cat)
    }
}

/// Parses one catalogue file; `path` is used in messages and kept on each line.
pub fn parse(src: &str, path: &Path) -> Result<Vec<Price>, CatalogueError> {
    let at = |span: std::ops::Range<usize>, field: String, message: String| {
        CatalogueError::File(InputError::at(src, path, span.start, field, message))
    };
    let raw: RawFile = toml::from_str(src).map_err(|e| InputError::toml(src, path, &e, "price"))?;
    let mut out = Vec::new();
    for (i, sp) in raw.prices.into_iter().enumerate() {
        let span = sp.span();
        let r = sp.into_inner();
        let f = |name: &str| format!("price[{i}].{name}");
        if r.source.get_ref().trim().is_empty() {
            return Err(at(
                r.source.span(),
                f("source"),
                "must name the public page".into(),
            ));
        }
        if !valid_date(r.read.get_ref()) {
            return Err(at(
                r.read.span(),
                f("read"),
                format!(
                    "`{}` is not a date: write YYYY, YYYY-MM or YYYY-MM-DD",
                    r.read.get_ref()
                ),
            ));
        }
        let unit = match &r.unit {
            Some(u) => Some(Unit::parse(u.get_ref()).ok_or_else(|| {
                at(
                    u.span(),
                    f("unit"),
                    format!(
                        "unknown unit `{}`; one of: {}",
                        u.get_ref(),
                        Unit::ALL.map(|u| format!("`{u}`")).join(", ")
                    ),
                )
            })?),
            None => None,
        };
        let usd = match (&r.usd, &r.unpriced) {
            (Some(u), None) => {
                let v = *u.get_ref();
                if !(v.is_finite() && v >= 0.0) {
                    return Err(at(u.span(), f("usd"), format!("must be ≥ 0, got {v}")));
                }
                if unit.is_none() {
                    return Err(at(span, f("unit"), "a priced line needs a unit".into()));
                }
                Some(Usd(v))
            }
            (None, Some(_)) => None,
            (Some(u), Some(_)) => {
                return Err(at(
                    u.span(),
                    f("usd"),
                    "give either `usd` or `unpriced`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(at(
                    span,
                    f("usd"),
                    "missing: give the amount, or `unpriced = \"not publicly priced\"`".into(),
                ));
            }
        };
        for (name, v) in [("free", &r.free), ("included", &r.included)] {
            if let Some(v) = v
                .as_ref()
                .filter(|v| !(v.get_ref().is_finite() && *v.get_ref() >= 0.0))
            {
                return Err(at(
                    v.span(),
                    f(name),
                    format!("must be ≥ 0, got {}", v.get_ref()),
                ));
            }
        }
        out.push(Price {
            id: r.id.into_inner(),
            provider: raw.provider.clone(),
            item: r.item,
            usd,
            unpriced: r.unpriced,
            unit,
            free: r.free.map_or(0.0, Spanned::into_inner),
            round_up: r.round_up,
            included: r.included.map_or(0.0, Spanned::into_inner),
            vcpu: r.vcpu,
            ram_gb: r.ram_gb,
            source: r.source.into_inner(),
            read: r.read.into_inner(),
            confidence: r.confidence,
            note: r.note,
            file: path.into(),
        });
    }
    Ok(out)
}

fn valid_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize, lo: u32, hi: u32| {
        p.len() == len && p.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))
    };
    match parts.as_slice() {
        [y] => num(y, 4, 2000, 2100),
        [y, m] => num(y, 4, 2000, 2100) && num(m, 2, 1, 12),
        [y, m, d] => num(y, 4, 2000, 2100) && num(m, 2, 1, 12) && num(d, 2, 1, 31),
        _ => false,
    }
}

impl Price {
    /// Cost of `raw` units of usage (bytes, requests, hours, executions) in a month:
    /// the free allowance first, then rounding, then the price. `None` when unpriced.
    pub fn cost(&self, raw: f64) -> Option<Usd> {
        let usd = self.usd?;
        let unit = self.unit?;
        let mut billed = (raw / unit.scale() - self.free - self.included).max(0.0);
        if self.round_up {
            // Providers round the billed quantity up; a float like 3.0000000001 from the
            // division above is still 3 units.
            billed = (billed - 1e-9).max(0.0).ceil();
        }
        Some(Usd(billed * usd.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R2: &str = r#"
provider = "Cloudflare R2"

[[price]]
id = "r2.storage"
item = "Standard storage"
usd = 0.015
unit = "GB-month"
free = 10
round_up = true
source = "https://developers.cloudflare.com/r2/pricing/"
read = "2026"
confidence = "primary"

[[price]]
id = "qdrant.cloud"
item = "Qdrant Cloud cluster"
unpriced = "not publicly priced"
source = "https://qdrant.tech/pricing/"
read = "2026-10"
confidence = "primary"
"#;

    fn load(src: &str) -> Result<Vec<Price>, CatalogueError> {
        parse(src, Path::new("pricing/x.toml"))
    }

    #[test]
    fn a_good_file_loads_with_sources_and_unpriced_lines() {
        let p = load(R2).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].usd, Some(Usd(0.015)));
        assert_eq!(p[0].provider, "Cloudflare R2");
        assert_eq!(p[1].usd, None);
        assert_eq!(p[1].cost(1e12), None, "unpriced never gets a number");
    }

    #[test]
    fn r2_free_tier_then_round_up() {
        let p = &load(R2).unwrap()[0];
        // 9.5 GB-month: inside the free 10.
        assert_eq!(p.cost(9.5e9), Some(Usd(0.0)));
        // 10.2 GB-month: 0.2 over, rounded up to 1 GB-month.
        assert!((p.cost(10.2e9).unwrap().0 - 0.015).abs() < 1e-12);
        // 25 GB-month exactly: 15 billed, no spurious extra unit.
        assert!((p.cost(25e9).unwrap().0 - 0.225).abs() < 1e-12);
    }

    #[test]
    fn missing_source_bad_unit_and_bad_date_are_named_with_their_line() {
        let no_source = R2.replacen(
            "source = \"https://developers.cloudflare.com/r2/pricing/\"\n",
            "",
            1,
        );
        let e = load(&no_source).unwrap_err().to_string();
        assert!(
            e.starts_with("pricing/x.toml:") && e.contains("source"),
            "{e}"
        );

        let bad_unit = R2.replacen("unit = \"GB-month\"", "unit = \"GB-mo\"", 1);
        let e = load(&bad_unit).unwrap_err().to_string();
        assert!(
            e.contains("pricing/x.toml:8:8: price[0].unit: unknown unit `GB-mo`"),
            "{e}"
        );

        let bad_date = R2.replacen("read = \"2026\"", "read = \"last week\"", 1);
        let e = load(&bad_date).unwrap_err().to_string();
        assert!(
            e.contains("pricing/x.toml:12:8: price[0].read") && e.contains("last week"),
            "{e}"
        );

        let empty_source = R2.replacen(
            "\"https://developers.cloudflare.com/r2/pricing/\"",
            "\" \"",
            1,
        );
        let e = load(&empty_source).unwrap_err().to_string();
        assert!(e.contains(":11:") && e.contains("price[0].source"), "{e}");

        let neither = R2.replacen("unpriced = \"not publicly priced\"\n", "", 1);
        let e = load(&neither).unwrap_err().to_string();
        assert!(e.contains("price[1].usd") && e.contains("unpriced"), "{e}");
    }

    #[test]
    fn dates() {
        for ok in ["2026", "2026-03", "2026-11-28"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in ["26", "2026-13", "2026-1", "2026-11-32", "", "2026/11"] {
            assert!(!valid_date(bad), "{bad}");
        }
    }

    #[test]
    fn the_repository_catalogue_loads() {
        let c =
            Catalogue::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pricing")).unwrap();
        for id in [
            "r2.storage",
            "s3.egress",
            "neon.compute.scale",
            "inngest.pro.base",
        ] {
            assert!(c.price(id).is_ok(), "{id}");
        }
        assert!(c.price("qdrant.cloud").unwrap().usd.is_none());
    }
}
