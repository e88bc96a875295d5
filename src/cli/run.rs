//! `archbench run`: the run, then the approval report when the results allow one.

use std::path::PathBuf;

use super::UsageError;
use crate::arch::{V02_NAME, V03_NAME};
use crate::loadgen::agent::{Agent, AgentRun, LogBucket};
use crate::report::ReportInputs;
use crate::results::Results;
use crate::run::RunOptions;

/// `--agent`, `--start-at`, `--attempt`: one agent's share of a run spread over
/// machines (README, "Load from many machines").
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// This process's share of a run over N agents, I/N (0-based, as a Kubernetes
    /// Indexed Job's JOB_COMPLETION_INDEX): every N-th arrival of the one schedule.
    #[arg(long)]
    pub agent: Option<String>,
    /// When the first phase starts on every agent (RFC 3339, e.g.
    /// 2026-12-02T10:00:00Z); required with --agent. Seeding happens before it.
    #[arg(long)]
    pub start_at: Option<String>,
    /// Which try of this agent this is: a restarted agent counts up, and `merge`
    /// keeps each agent's latest.
    #[arg(long, default_value_t = 1, env = "ARCHBENCH_ATTEMPT")]
    pub attempt: u32,
    /// Also put the agent's interval logs into an S3 bucket, s3://BUCKET/PREFIX, with
    /// S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and S3_REGION).
    #[arg(long)]
    pub logs_to: Option<String>,
}

impl AgentArgs {
    /// The agent's run, or `None` without `--agent`; exit 2 for what does not go.
    pub fn agent_run(&self) -> Result<Option<AgentRun>, UsageError> {
        let (agent, start_at) = match (&self.agent, &self.start_at) {
            (None, None) if self.logs_to.is_some() => {
                return Err(UsageError("--logs-to goes with --agent".into()));
            }
            (None, None) => return Ok(None),
            (Some(a), Some(t)) => (a, t),
            _ => {
                return Err(UsageError(
                    "--agent and --start-at go together: every agent waits for the same start"
                        .into(),
                ));
            }
        };
        let agent = Agent::parse(agent).map_err(|e| UsageError(e.to_string()))?;
        let start_at = chrono::DateTime::parse_from_rfc3339(start_at)
            .map_err(|e| {
                UsageError(format!(
                    "--start-at {start_at}: {e}; write RFC 3339, e.g. 2026-12-02T10:00:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc);
        if start_at - chrono::Utc::now() > chrono::TimeDelta::days(1) {
            return Err(UsageError(format!(
                "--start-at {}: more than a day ahead",
                start_at.to_rfc3339()
            )));
        }
        if self.attempt == 0 {
            return Err(UsageError("--attempt counts from 1".into()));
        }
        let logs_to = match &self.logs_to {
            Some(url) => Some(LogBucket::parse(url).map_err(|e| UsageError(e.to_string()))?),
            None => None,
        };
        Ok(Some(AgentRun {
            agent,
            start_at,
            attempt: self.attempt,
            logs_to,
        }))
    }
}

/// What to do around the run.
#[derive(Debug, Clone)]
pub struct AfterRun {
    /// Print the estimate and stop before anything starts.
    pub dry_run: bool,
    /// Skip the approval report.
    pub no_report: bool,
    /// The report's inputs; `results` is replaced by the run's results file.
    pub report: ReportInputs,
}

/// A report compares V0.2 with V0.3 under a stated user behaviour.
pub fn report_possible(results: &Results) -> bool {
    [V02_NAME, V03_NAME]
        .iter()
        .all(|s| results.systems.contains_key(*s))
        && !results.scenario.user_behaviour.is_empty()
}

/// Runs the scenario, prints where the results are, fails when they are incomplete,
/// and writes the report beside them when it can be made.
pub async fn run(
    options: RunOptions,
    after: AfterRun,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    if after.dry_run {
        writeln!(out, "{}", crate::run::estimate(&options)?)?;
        return Ok(());
    }
    let folder = options.out.clone();
    let summary = crate::run::run(options, out).await?;
    writeln!(
        out,
        "results: {}{}",
        summary.results_path.display(),
        if summary.results.complete {
            ""
        } else {
            " (incomplete)"
        }
    )?;
    if !summary.results.complete {
        anyhow::bail!(
            "the run is incomplete: {}",
            summary.results.notes.join("; ")
        );
    }
    if after.no_report {
        return Ok(());
    }
    if !report_possible(&summary.results) {
        writeln!(
            out,
            "report: skipped (it needs v02 and v03 and the scenario's [user_behaviour]); `archbench report` makes one later"
        )?;
        return Ok(());
    }
    let report_folder: PathBuf = summary
        .results_path
        .parent()
        .unwrap_or(&folder)
        .to_path_buf();
    let inputs = ReportInputs {
        results: summary.results_path.clone(),
        ..after.report
    };
    super::report::write_report_unless_interrupted(inputs, &report_folder, out).await
}
