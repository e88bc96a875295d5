//! One agent's share of a run spread over several machines (`run --agent I/N
//! --start-at T`): agent I takes every N-th arrival of the one global schedule, with
//! the ops the single-agent run would make there, so the agents' union is the
//! single-agent run. Its interval logs carry a key — run, agent, attempt — so that
//! `archbench merge` can refuse a set with an agent missing, doubled, or from another
//! run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most agents of one run.
pub const MAX_AGENTS: usize = 10_000;

/// Agent `index` of `count` (0-based, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Which agent, 0 ≤ index < count.
    pub index: usize,
    /// How many agents share the schedule.
    pub count: usize,
}

/// An `--agent` value that names no agent (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("--agent {0}")]
pub struct AgentError(pub String);

impl Agent {
    /// The one agent of a run not spread over machines.
    pub const SOLO: Agent = Agent { index: 0, count: 1 };

    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Agent, AgentError> {
        let bad = |why: &str| {
            AgentError(format!(
                "{text}: {why}; write I/N with 0 <= I < N, e.g. 0/4"
            ))
        };
        let (index, count) = text.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let index: usize = index
            .trim()
            .parse()
            .map_err(|_| bad("I is not a whole number"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if count == 0 || count > MAX_AGENTS {
            return Err(bad(&format!("N must be 1..={MAX_AGENTS}")));
        }
        if index >= count {
            return Err(bad("I must be below N"));
        }
        Ok(Agent { index, count })
    }

    /// Whether arrival number `arrival` (0-based, in schedule order) is this agent's.
    pub fn owns(self, arrival: usize) -> bool {
        arrival % self.count == self.index
    }

    /// This agent's arrivals of `schedule`.
    pub fn share(self, schedule: impl Iterator<Item = Duration>) -> impl Iterator<Item = Duration> {
        schedule
            .enumerate()
            .filter(move |(i, _)| self.owns(*i))
            .map(|(_, offset)| offset)
    }

    /// `next_op` as this agent calls it, once per own arrival: the ops of the other
    /// agents' arrivals are made and dropped first, so its ops are the ones the
    /// single-agent run makes at the same arrivals.
    pub fn ops<T>(self, mut next_op: impl FnMut() -> T) -> impl FnMut() -> T {
        let mut first = true;
        move || {
            let skip = if std::mem::take(&mut first) {
                self.index
            } else {
                self.count - 1
            };
            for _ in 0..skip {
                drop(next_op());
            }
            next_op()
        }
    }
}

/// What an agent's run is: its share, the common start and which attempt this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRun {
    /// The share.
    pub agent: Agent,
    /// When the first phase starts, on every agent.
    pub start_at: DateTime<Utc>,
    /// 1 for the first try; a restarted agent counts up.
    pub attempt: u32,
    /// Where its interval logs go besides `--out` (`--logs-to s3://BUCKET/PREFIX`).
    pub logs_to: Option<LogBucket>,
}

/// `s3://BUCKET/PREFIX`: the bucket every agent's logs go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBucket {
    /// Bucket.
    pub bucket: String,
    /// Key prefix without a trailing `/` (may be empty).
    pub prefix: String,
}

impl LogBucket {
    /// Parses `s3://BUCKET[/PREFIX]`.
    pub fn parse(text: &str) -> Result<LogBucket, AgentError> {
        let bad =
            |why: &str| AgentError(format!("--logs-to {text}: {why}; write s3://BUCKET/PREFIX"));
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
        if !bucket_ok {
            return Err(bad(
                "a bucket name is 3-63 lower-case letters, digits, `-` and `.`",
            ));
        }
        Ok(LogBucket {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The key of a log named `name`.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

/// The key an interval log carries (a comment line of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogKey {
    /// The run: the scenario's hash and the common start.
    pub run: String,
    /// Agent index.
    pub agent: usize,
    /// Agents.
    pub agents: usize,
    /// Attempt.
    pub attempt: u32,
}

const KEY_PREFIX: &str = "[archbench-agent ";

impl LogKey {
    /// The key of `run` for a scenario with `hash`.
    pub fn of(run: &AgentRun, hash: &str) -> LogKey {
        LogKey {
            run: format!(
                "{}@{}",
                &hash[..hash.len().min(12)],
                run.start_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ),
            agent: run.agent.index,
            agents: run.agent.count,
            attempt: run.attempt,
        }
    }

    /// The comment (the log writes it after a `#`).
    pub fn comment(&self) -> String {
        format!(
            "{KEY_PREFIX}run={} agent={}/{} attempt={}]",
            self.run, self.agent, self.agents, self.attempt
        )
    }

    /// The key in a log's text, if it has one.
    pub fn find(log: &[u8]) -> Option<LogKey> {
        let text = std::str::from_utf8(&log[..log.len().min(4096)]).ok()?;
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix('#')?.strip_prefix(KEY_PREFIX))?;
        let body = line.strip_suffix(']')?;
        let mut run = None;
        let mut agent = None;
        let mut attempt = None;
        for part in body.split_whitespace() {
            match part.split_once('=')? {
                ("run", v) => run = Some(v.to_string()),
                ("agent", v) => agent = Some(Agent::parse(v).ok()?),
                ("attempt", v) => attempt = Some(v.parse().ok()?),
                _ => return None,
            }
        }
        let agent = agent?;
        Some(LogKey {
            run: run?,
            agent: agent.index,
            agents: agent.count,
            attempt: attempt?,
        })
    }
}

/// A set of agents' logs that does not make one run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AgentSetError(pub String);

/// Of keyed logs (`names[i]` for messages), the ones to merge: every agent of one run
/// once, its latest attempt; an earlier attempt of an agent is left out, as are logs
/// without a key only when none has one. Errors name what is missing or doubled.
pub fn choose(keys: &[Option<LogKey>], names: &[String]) -> Result<Vec<usize>, AgentSetError> {
    if keys.iter().all(Option::is_none) {
        return Ok((0..keys.len()).collect());
    }
    if let Some(i) = keys.iter().position(Option::is_none) {
        return Err(AgentSetError(format!(
            "{} has no agent key while others have: merge one run's agents only",
            names[i]
        )));
    }
    let keyed: Vec<&LogKey> = keys.iter().flatten().collect();
    let first = keyed[0];
    if let Some(i) = keyed
        .iter()
        .position(|k| k.run != first.run || k.agents != first.agents)
    {
        return Err(AgentSetError(format!(
            "{} is from run {} ({} agents), {} from run {} ({} agents): logs of different runs do not merge",
            names[i], keyed[i].run, keyed[i].agents, names[0], first.run, first.agents
        )));
    }
    let mut chosen: Vec<Option<usize>> = vec![None; first.agents];
    for (i, k) in keyed.iter().enumerate() {
        match chosen[k.agent] {
            Some(j) if keyed[j].attempt == k.attempt => {
                return Err(AgentSetError(format!(
                    "agent {}/{} attempt {} twice: {} and {}",
                    k.agent, k.agents, k.attempt, names[j], names[i]
                )));
            }
            Some(j) if keyed[j].attempt > k.attempt => {}
            _ => chosen[k.agent] = Some(i),
        }
    }
    let missing: Vec<String> = (0..first.agents)
        .filter(|a| chosen[*a].is_none())
        .map(|a| format!("{a}/{}", first.agents))
        .collect();
    if !missing.is_empty() {
        return Err(AgentSetError(format!(
            "run {}: no log of agent {}",
            first.run,
            missing.join(", ")
        )));
    }
    Ok(chosen.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_parse_and_three_of_two_is_refused() {
        assert_eq!(Agent::parse("1/3").unwrap(), Agent { index: 1, count: 3 });
        for bad in ["3/2", "2/2", "0/0", "x/2", "1", "-1/2"] {
            let e = Agent::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--agent {bad}:")), "{e}");
        }
    }

    #[test]
    fn the_shares_are_the_schedule_and_the_ops_the_global_sequence() {
        let schedule: Vec<Duration> = (0..10).map(Duration::from_millis).collect();
        let mut union: Vec<(Duration, u32)> = Vec::new();
        for index in 0..3 {
            let agent = Agent { index, count: 3 };
            let mut n = 0;
            let mut ops = agent.ops(move || {
                n += 1;
                n - 1
            });
            for offset in agent.share(schedule.iter().copied()) {
                union.push((offset, ops()));
            }
        }
        union.sort();
        let single: Vec<(Duration, u32)> = schedule.iter().copied().zip(0..).collect();
        assert_eq!(union, single);
    }

    fn key(run: &str, agent: usize, attempt: u32) -> Option<LogKey> {
        Some(LogKey {
            run: run.into(),
            agent,
            agents: 3,
            attempt,
        })
    }

    #[test]
    fn a_set_needs_every_agent_once_from_one_run() {
        let names: Vec<String> = (0..4).map(|i| format!("log{i}")).collect();
        let whole = [key("r", 0, 1), key("r", 1, 1), key("r", 2, 1)];
        assert_eq!(choose(&whole, &names).unwrap(), [0, 1, 2]);
        let retried = [
            key("r", 0, 1),
            key("r", 1, 1),
            key("r", 2, 1),
            key("r", 1, 2),
        ];
        assert_eq!(choose(&retried, &names).unwrap(), [0, 3, 2]);
        let e = choose(&[key("r", 0, 1), key("r", 2, 1)], &names).unwrap_err();
        assert!(e.to_string().contains("no log of agent 1/3"), "{e}");
        let e = choose(&[key("r", 0, 1), key("r", 0, 1), key("r", 1, 1)], &names).unwrap_err();
        assert!(e.to_string().contains("attempt 1 twice"), "{e}");
        let e = choose(&[key("r", 0, 1), key("s", 1, 1), key("r", 2, 1)], &names).unwrap_err();
        assert!(e.to_string().contains("different runs"), "{e}");
    }

    #[test]
    fn a_bucket_parses_with_or_without_a_prefix() {
        let b = LogBucket::parse("s3://logs/run-7/").unwrap();
        assert_eq!(
            (b.bucket.as_str(), b.key("v02.hlog")),
            ("logs", "run-7/v02.hlog".into())
        );
        assert_eq!(LogBucket::parse("s3://logs").unwrap().key("a"), "a");
        for bad in ["logs/x", "s3://", "s3://A_B/x"] {
            assert!(LogBucket::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_reads_back_from_its_comment() {
        let k = key("abc@2026-12-02T10:00:00.000Z", 2, 1).unwrap();
        let log = format!("#[StartTime: 1 (seconds since epoch)]\n#{}\n", k.comment());
        assert_eq!(LogKey::find(log.as_bytes()), Some(k));
        assert_eq!(LogKey::find(b"#[StartTime: 1]\n"), None);
    }
}
