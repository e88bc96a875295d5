//! Reports. `results.json` is the source of truth; from it (and the price catalogue,
//! the cost model and the document's targets) this module builds one document model —
//! sections of paragraphs, tables and charts — and renders it twice: `report.md` for a
//! CI job summary and a self-contained `report.html` (inline CSS and SVG, no network).
//! `report.json` carries the cost projections and verdicts for machines.

pub mod charts;
mod document;
mod render;
mod sections;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cost::actuals::Actuals;
use crate::cost::calibration::{Calibration, calibrate};
use crate::cost::catalogue::{Catalogue, CatalogueError};
use crate::cost::{CostModel, CostReport, ModelError};
use crate::growth::{Growth, GrowthError};
use crate::probes::capacity_file::{CapacityFileError, CapacityReport};
use crate::results::{IntervalLogs, Results, ResultsError};
use crate::verdict::{Evaluation, Outcome, Targets, TargetsError};

/// Where a report's inputs come from.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    /// The results file.
    pub results: PathBuf,
    /// Price catalogue directory.
    pub pricing: PathBuf,
    /// Cost model (assumptions, deployments).
    pub model: PathBuf,
    /// The document's targets.
    pub targets: PathBuf,
    /// What production's bill says (`--actuals`), to calibrate the model against.
    pub actuals: Option<PathBuf>,
    /// Capacity files (`--capacity`): compute sized from measured capacity, the
    /// scalability claim projected from a scale sweep.
    pub capacity: Vec<PathBuf>,
    /// A migration rehearsal's `migration.json` (`--migration`): decision #5, the
    /// rollback plan and the risk lines rest on it.
    pub migration: Option<PathBuf>,
    /// Results files whose probes (event log, search quality) replace the main
    /// results' (`--with`): full-size probes run apart from the suite.
    pub with: Vec<PathBuf>,
    /// A scale sweep's `sweep.json` (`--sweep`): growth fitted per metric, and the
    /// cost projection scaled along the fits to each tier's dataset size.
    pub sweep: Option<PathBuf>,
}

impl ReportInputs {
    /// The repository's defaults, relative to `root`, for `results`.
    pub fn defaults(root: &Path, results: PathBuf) -> Self {
        ReportInputs {
            results,
            pricing: root.join("pricing"),
            model: root.join("deployments/decision-doc.toml"),
            targets: root.join("targets/decision-doc.toml"),
            actuals: None,
            capacity: Vec::new(),
            migration: None,
            with: Vec::new(),
            sweep: None,
        }
    }
}

/// A report that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results file.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The price catalogue.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The cost model or the results' inputs to it.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The targets file.
    #[error(transparent)]
    Targets(#[from] TargetsError),
    /// The actuals file.
    #[error(transparent)]
    Actuals(crate::input::InputError),
    /// A capacity file.
    #[error(transparent)]
    Capacity(#[from] CapacityFileError),
    /// The scale sweep.
    #[error(transparent)]
    Growth(#[from] GrowthError),
    /// A chart.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// Writing the output.
    #[error("{}: {source}", .path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run.
    pub results: Results,
    /// Results file as given.
    pub results_path: String,
    /// Prices used.
    pub catalogue: Catalogue,
    /// Projections.
    pub cost: CostReport,
    /// The document's figures and claims.
    pub targets: Targets,
    /// Verdicts.
    pub evaluation: Evaluation,
    /// The model beside production's actual bill (`--actuals`).
    pub calibration: Option<Calibration>,
    /// Capacity files given, each with its path.
    pub capacity: Vec<(String, CapacityReport)>,
    /// The migration rehearsal, when given.
    pub migration: Option<crate::results::migration::Migration>,
    /// Growth fitted over a scale sweep, when given.
    pub growth: Option<Growth>,
}

/// Files written.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    /// `report.html`.
    pub html: PathBuf,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
}

impl Report {
    /// Reads the inputs and evaluates.
    pub fn build(inputs: &ReportInputs) -> Result<Report, ReportError> {
        let results = read_with_probes(&inputs.results, &inputs.with)?;
        let catalogue = Catalogue::load_dir(&inputs.pricing)?;
        let model = CostModel::load(&inputs.model)?;
        let targets = Targets::load(&inputs.targets)?;
        let results_path = inputs.results.display().to_string();
        let capacity = inputs
            .capacity
            .iter()
            .map(|p| Ok((p.display().to_string(), CapacityReport::read(p)?)))
            .collect::<Result<Vec<_>, CapacityFileError>>()?;
        let measured: Vec<CapacityReport> = capacity.iter().map(|(_, c)| c.clone()).collect();
        let growth = inputs
            .sweep
            .as_deref()
            .map(|index| Growth::read(index, &measured))
            .transpose()?;
        let curves = growth
            .as_ref()
            .map(Growth::usage_curves)
            .unwrap_or_default();
        let cost = CostReport::build_sized(
            &results,
            &results_path,
            &model,
            &catalogue,
            &measured,
            &curves,
        )?;
        let migration = inputs
            .migration
            .as_deref()
            .map(crate::results::migration::Migration::read)
            .transpose()?;
        let evaluation = crate::verdict::evaluate(
            &targets,
            &results,
            &cost,
            &catalogue,
            &measured,
            migration.as_ref(),
        );
        let calibration = match &inputs.actuals {
            Some(path) => {
                let actuals = Actuals::load(path).map_err(ReportError::Actuals)?;
                calibrate(&cost, &actuals, &catalogue)
            }
            None => None,
        };
        Ok(Report {
            results,
            results_path,
            catalogue,
            cost,
            targets,
            evaluation,
            calibration,
            capacity,
            migration,
            growth,
        })
    }

    /// Writes `report.html`, `report.md` and `report.json` into `out`, each atomically.
    /// Interval logs named by the results are read from beside the results file.
    pub fn write(&self, out: &Path) -> Result<ReportPaths, ReportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ReportError::Io { path, source }
        };
        std::fs::create_dir_all(out).map_err(io(out))?;
        let logs_dir = Path::new(&self.results_path)
            .parent()
            .unwrap_or(Path::new("."));
        let names: Vec<&str> = self.results.systems.keys().map(String::as_str).collect();
        let logs = IntervalLogs::read(&self.results, logs_dir, &names);
        let doc = document::document(self, logs)?;
        let paths = ReportPaths {
            html: out.join("report.html"),
            markdown: out.join("report.md"),
            json: out.join("report.json"),
        };
        crate::atomic::write_atomic(&paths.html, render::html(&doc).as_bytes(), 0o644)
            .map_err(io(&paths.html))?;
        crate::atomic::write_atomic(&paths.markdown, render::markdown(&doc).as_bytes(), 0o644)
            .map_err(io(&paths.markdown))?;
        let json = serde_json::json!({
            "results": self.results_path,
            "cost": self.cost,
            "evaluation": self.evaluation,
            "calibration": self.calibration,
            "capacity": self.capacity,
            "migration": self.migration,
            "growth": self.growth,
            "prices": self.catalogue.prices,
        });
        let bytes = serde_json::to_vec_pretty(&json).expect("report serialises");
        crate::atomic::write_atomic(&paths.json, &bytes, 0o644).map_err(io(&paths.json))?;
        Ok(paths)
    }

    /// One line per claim: what a terminal prints after a run.
    pub fn headline(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .evaluation
            .claims
            .iter()
            .map(|v| {
                let mark = match v.outcome {
                    Outcome::Confirmed => "CONFIRMED     ",
                    Outcome::Refuted => "REFUTED       ",
                    Outcome::Consistent => "CONSISTENT    ",
                    Outcome::NotReproduced => "NOT REPRODUCED",
                    Outcome::Input => "INPUT         ",
                    Outcome::ForTheApprover => "APPROVER      ",
                    Outcome::NotMeasurable => "N/M           ",
                };
                format!("{mark} {}: {}", v.statement, v.value)
            })
            .collect();
        out.push(format!(
            "FINDINGS       {}",
            crate::verdict::Tally::of(&self.evaluation.claims)
        ));
        let r = &self.evaluation.recommendation;
        out.push(format!("RECOMMENDATION Option {}: {}", r.option, r.why));
        out
    }
}

/// The run's results with the probes of every `--with` file taken in, in order. A later
/// file's event-log sizes join the first's, and only from the same instance profile:
/// sizes measured on different instances are not put side by side.
fn read_with_probes(path: &Path, with: &[PathBuf]) -> Result<Results, ReportError> {
    let mut results = Results::read(path)?;
    let mut event_log_instance: Option<Option<String>> = None;
    for path in with {
        let probes = Results::read(path)?;
        let source = path.display().to_string();
        let instance = probes.environment.instance_name();
        let add_sizes = event_log_instance.is_some();
        if probes.event_log_probe.is_some() {
            match &event_log_instance {
                Some(first) if *first != instance => {
                    return Err(ResultsError::Invalid {
                        path: source,
                        message: format!(
                            "event_log_probe: ran on instance {}, the event log given before on {}: sizes from different instances are not put side by side",
                            instance.as_deref().unwrap_or("unconfined"),
                            first.as_deref().unwrap_or("unconfined")
                        ),
                    }
                    .into());
                }
                Some(_) => {}
                None => event_log_instance = Some(instance),
            }
        }
        results.take_probes_from(probes, &source, add_sizes)?;
    }
    Ok(results)
}
