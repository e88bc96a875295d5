//! Shadow reads, as GitHub's scientist runs experiments: the control (the source) is
//! asked and its answer served; for a sample of reads the candidate (the target) is
//! asked too, off the request path, and the answers compared. A difference is looked
//! at again up to three times over 3.5 s — for a read of one entity, under that
//! entity's write lock, so that no mirrored write is between the systems: gone, it was
//! a write in flight or a projection lagging (transient); still there, it is a
//! mismatch, kept with the id. Search is compared by
//! recall@k of the candidate's hits against the control's exact top-k.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::arch::{
    ActivityBucket, Entity, EntityId, EntitySummary, HistoryEvent, OpKind, OpResult, Operations,
    SearchHit, UserId,
};
use crate::results::migration::{Mismatch, ShadowOp, ShadowReads};

/// Mismatches kept with their ids, at most.
const KEPT: usize = 50;
/// The waits before each further look at a difference: 3.5 s in all for a write in
/// flight or a lagging projection to settle before it counts.
const LOOKS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];

/// A read, with what it asked.
#[derive(Debug, Clone)]
pub enum ReadRequest {
    /// One entity.
    Get(EntityId),
    /// A user's entities.
    List(UserId, i64),
    /// A user's top-k.
    Search(UserId, String, i64),
    /// An entity's events.
    History(EntityId),
    /// A user's events per hour.
    Activity(UserId, DateTime<Utc>, DateTime<Utc>),
}

impl ReadRequest {
    /// The op.
    pub fn op(&self) -> OpKind {
        match self {
            ReadRequest::Get(_) => OpKind::Get,
            ReadRequest::List(..) => OpKind::List,
            ReadRequest::Search(..) => OpKind::Search,
            ReadRequest::History(_) => OpKind::History,
            ReadRequest::Activity(..) => OpKind::Activity,
        }
    }

    /// The id or user asked about.
    pub fn key(&self) -> String {
        match self {
            ReadRequest::Get(id) | ReadRequest::History(id) => id.to_string(),
            ReadRequest::List(u, _) | ReadRequest::Search(u, ..) | ReadRequest::Activity(u, ..) => {
                format!("user {}", u.0)
            }
        }
    }

    /// Asks `system`.
    pub async fn ask(&self, system: &dyn Operations) -> OpResult<Answer> {
        Ok(match self {
            ReadRequest::Get(id) => Answer::Get(system.get(*id).await?),
            ReadRequest::List(u, limit) => Answer::List(system.list(*u, *limit).await?),
            ReadRequest::Search(u, q, k) => Answer::Search(system.search(*u, q, *k).await?),
            ReadRequest::History(id) => Answer::History(system.history(*id).await?),
            ReadRequest::Activity(u, from, to) => {
                Answer::Activity(system.activity(*u, *from, *to).await?)
            }
        })
    }
}

/// A read's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `get`.
    Get(Entity),
    /// `list`.
    List(Vec<EntitySummary>),
    /// `search`.
    Search(Vec<SearchHit>),
    /// `history`.
    History(Vec<HistoryEvent>),
    /// `activity`.
    Activity(Vec<ActivityBucket>),
}

/// How two answers compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The same.
    Same,
    /// Search: the candidate's recall@k against the control.
    Recall(f64),
    /// Different, and how.
    Different(String),
}

/// Compares the candidate's answer with the control's.
pub fn compare(control: &Answer, candidate: &Answer, min_recall: f64) -> Verdict {
    match (control, candidate) {
        (Answer::Search(c), Answer::Search(t)) => {
            if c.is_empty() {
                return if t.is_empty() {
                    Verdict::Same
                } else {
                    Verdict::Different(format!("control found nothing, candidate {} hits", t.len()))
                };
            }
            let found = c.iter().filter(|h| t.iter().any(|x| x.id == h.id)).count();
            let recall = found as f64 / c.len() as f64;
            if recall + 1e-9 < min_recall {
                Verdict::Different(format!(
                    "recall@{} {recall:.2} below {min_recall:.2}",
                    c.len()
                ))
            } else {
                Verdict::Recall(recall)
            }
        }
        (Answer::Get(c), Answer::Get(t)) if c != t => Verdict::Different(format!(
            "version {} vs {}, body {} vs {} bytes{}",
            c.version,
            t.version,
            c.body.len(),
            t.body.len(),
            if c.body == t.body {
                ""
            } else {
                ", bodies differ"
            }
        )),
        (Answer::List(c), Answer::List(t)) if c != t => Verdict::Different(format!(
            "{} vs {} entries, first difference at {}",
            c.len(),
            t.len(),
            first_difference(c, t)
        )),
        (Answer::History(c), Answer::History(t)) if c != t => Verdict::Different(format!(
            "{} vs {} events, first difference at {}",
            c.len(),
            t.len(),
            first_difference(c, t)
        )),
        (Answer::Activity(c), Answer::Activity(t)) if c != t => Verdict::Different(format!(
            "{} vs {} hours, first difference at {}",
            c.len(),
            t.len(),
            first_difference(c, t)
        )),
        (c, t) if std::mem::discriminant(c) != std::mem::discriminant(t) => {
            Verdict::Different("answers of different ops".into())
        }
        _ => Verdict::Same,
    }
}

fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// The comparisons so far.
pub struct ShadowLog {
    sample: f64,
    min_recall: f64,
    inner: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    ops: BTreeMap<String, ShadowOp>,
    recall_sum: f64,
    recall_count: u64,
    samples: Vec<Mismatch>,
}

impl ShadowLog {
    /// A log for reads shadowed with probability `sample`.
    pub fn new(sample: f64, min_recall: f64) -> Self {
        Self {
            sample,
            min_recall,
            inner: Mutex::new(Tally::default()),
        }
    }

    /// Share of reads to shadow.
    pub fn sample(&self) -> f64 {
        self.sample
    }

    /// Compares `control`'s served answer with the candidate's; a difference is asked
    /// of both again after a moment before it counts.
    pub async fn experiment(
        &self,
        request: &ReadRequest,
        served: Answer,
        control: &dyn Operations,
        candidate: &dyn Operations,
        stripes: &super::dual::Stripes,
    ) {
        let op = request.op().name().to_string();
        let verdict = match request.ask(candidate).await {
            Ok(answer) => compare(&served, &answer, self.min_recall),
            Err(e) => {
                let mut t = self.inner.lock().expect("shadow log");
                t.ops.entry(op).or_default().failed += 1;
                keep(&mut t.samples, request, format!("candidate failed: {e}"));
                return;
            }
        };
        let verdict = match verdict {
            Verdict::Different(first) => {
                match self.look_again(request, control, candidate, stripes).await {
                    None => {
                        let mut t = self.inner.lock().expect("shadow log");
                        let line = t.ops.entry(op).or_default();
                        line.compared += 1;
                        line.transient += 1;
                        return;
                    }
                    Some(later) => Verdict::Different(later.unwrap_or(first)),
                }
            }
            v => v,
        };
        let mut t = self.inner.lock().expect("shadow log");
        let line = t.ops.entry(op).or_default();
        line.compared += 1;
        match verdict {
            Verdict::Same => {}
            Verdict::Recall(r) => {
                t.recall_sum += r;
                t.recall_count += 1;
            }
            Verdict::Different(d) => {
                line.mismatched += 1;
                keep(&mut t.samples, request, d);
            }
        }
    }

    /// Asks both again after each of [`LOOKS`]: `None` as soon as they agree, else the
    /// last difference seen (`Some(None)` when a later look could not ask both).
    async fn look_again(
        &self,
        request: &ReadRequest,
        control: &dyn Operations,
        candidate: &dyn Operations,
        stripes: &super::dual::Stripes,
    ) -> Option<Option<String>> {
        let mut last = None;
        for wait in LOOKS {
            tokio::time::sleep(wait).await;
            let _quiet = match request {
                ReadRequest::Get(id) | ReadRequest::History(id) => Some(stripes.lock(*id).await),
                _ => None,
            };
            if let (Ok(c), Ok(t)) = (request.ask(control).await, request.ask(candidate).await) {
                match compare(&c, &t, self.min_recall) {
                    Verdict::Different(d) => last = Some(d),
                    _ => return None,
                }
            }
        }
        Some(last)
    }

    /// The totals, for `migration.json`.
    pub fn summary(&self) -> ShadowReads {
        let t = self.inner.lock().expect("shadow log");
        let compared: u64 = t.ops.values().map(|o| o.compared).sum();
        let mismatched: u64 = t.ops.values().map(|o| o.mismatched).sum();
        ShadowReads {
            sample: self.sample,
            compared,
            mismatched,
            mismatch_rate: if compared == 0 {
                0.0
            } else {
                mismatched as f64 / compared as f64
            },
            ops: t.ops.clone(),
            search_recall: (t.recall_count > 0).then(|| t.recall_sum / t.recall_count as f64),
            min_recall: self.min_recall,
            samples: t.samples.clone(),
        }
    }
}

fn keep(samples: &mut Vec<Mismatch>, request: &ReadRequest, detail: String) {
    if samples.len() < KEPT {
        samples.push(Mismatch {
            op: request.op().name().to_string(),
            key: request.key(),
            detail,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(n: u128) -> SearchHit {
        SearchHit {
            id: EntityId(uuid::Uuid::from_u128(n)),
            score: 0.5,
        }
    }

    #[test]
    fn search_is_compared_by_recall() {
        let control = Answer::Search((1..=10).map(hit).collect());
        let nine = Answer::Search((2..=11).map(hit).collect());
        assert_eq!(compare(&control, &nine, 0.9), Verdict::Recall(0.9));
        assert!(matches!(
            compare(&control, &nine, 0.95),
            Verdict::Different(_)
        ));
        assert_eq!(compare(&control, &control, 1.0), Verdict::Recall(1.0));
    }

    #[test]
    fn lists_differ_at_the_first_entry_that_does() {
        let entry = |v| EntitySummary {
            id: EntityId(uuid::Uuid::from_u128(1)),
            title: "t".into(),
            version: v,
        };
        let a = Answer::List(vec![entry(1), entry(2)]);
        let b = Answer::List(vec![entry(1), entry(3)]);
        assert_eq!(
            compare(&a, &b, 1.0),
            Verdict::Different("2 vs 2 entries, first difference at 1".into())
        );
        assert_eq!(compare(&a, &a, 1.0), Verdict::Same);
    }
}
