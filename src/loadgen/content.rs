//! Generated markdown bodies. Every body carries a marker unique to its entity and
//! version, so that the copies-per-item measurement can find the body wherever a
//! store holds it, without trusting the code that put it there.

use rand::Rng;
use rand::seq::IndexedRandom;
use sha2::{Digest, Sha256};

use crate::arch::EntityId;

const WORDS: &[&str] = &[
    "architecture",
    "event",
    "hypertable",
    "projection",
    "storage",
    "latency",
    "budget",
    "migration",
    "vector",
    "search",
    "object",
    "bucket",
    "payload",
    "reference",
    "workflow",
    "retry",
    "index",
    "query",
    "schema",
    "version",
    "document",
    "tenant",
    "invoice",
    "roadmap",
    "meeting",
    "notes",
    "design",
    "review",
    "deploy",
    "rollback",
    "metric",
    "dashboard",
    "customer",
    "feature",
    "release",
    "backlog",
    "sprint",
    "incident",
    "postmortem",
    "capacity",
    "forecast",
    "pricing",
    "contract",
    "onboarding",
    "security",
    "audit",
    "report",
    "quarter",
    "revenue",
    "cost",
];

/// The marker for one version of one entity: `abm-` and 16 hex digits.
pub fn marker(id: EntityId, version: i32) -> String {
    let digest = Sha256::digest(format!("{id}/{version}").as_bytes());
    format!("abm-{}", &hex::encode(digest)[..16])
}

/// The marker a body carries, if any.
pub fn find_marker(body: &str) -> Option<&str> {
    let mut rest = body;
    while let Some(pos) = rest.find("abm-") {
        let cand = &rest[pos..];
        if cand.len() >= 20 && cand.as_bytes()[4..20].iter().all(|b| b.is_ascii_hexdigit()) {
            return Some(&cand[..20]);
        }
        rest = &rest[pos + 4..];
    }
    None
}

/// A title of a few words.
pub fn title(rng: &mut impl Rng) -> String {
    let n = rng.random_range(2..6);
    let words: Vec<&str> = (0..n)
        .map(|_| *WORDS.choose(rng).expect("non-empty"))
        .collect();
    let mut t = words.join(" ");
    if let Some(first) = t.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    t
}

/// A markdown body of about `target_bytes` (at least the heading and marker line):
/// a heading, the marker paragraph, then paragraphs separated by blank lines.
pub fn body(
    rng: &mut impl Rng,
    id: EntityId,
    version: i32,
    title: &str,
    target_bytes: usize,
) -> String {
    let mut s = format!(
        "# {title}\n\nRevision {version} of this page, ref {}.",
        marker(id, version)
    );
    while s.len() < target_bytes {
        s.push_str("\n\n");
        let sentences = rng.random_range(2..6);
        for i in 0..sentences {
            if i > 0 {
                s.push(' ');
            }
            let n = rng.random_range(6..16);
            let words: Vec<&str> = (0..n)
                .map(|_| *WORDS.choose(rng).expect("non-empty"))
                .collect();
            s.push_str(&words.join(" "));
            s.push('.');
            if s.len() >= target_bytes {
                break;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bodies_carry_their_marker_and_size() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let id = EntityId(uuid::Uuid::from_u128(1));
        let b = body(&mut rng, id, 3, "T", 4000);
        assert!(b.len() >= 4000 && b.len() < 4300, "{}", b.len());
        assert_eq!(find_marker(&b), Some(marker(id, 3).as_str()));
        assert_ne!(marker(id, 3), marker(id, 4));
    }

    #[test]
    fn same_seed_same_body() {
        let id = EntityId(uuid::Uuid::from_u128(9));
        let a = body(&mut rand::rngs::StdRng::seed_from_u64(1), id, 1, "T", 2000);
        let b = body(&mut rand::rngs::StdRng::seed_from_u64(1), id, 1, "T", 2000);
        assert_eq!(a, b);
    }

    #[test]
    fn find_marker_skips_lookalikes() {
        assert_eq!(
            find_marker("abm-xyz then abm-0123456789abcdef!"),
            Some("abm-0123456789abcdef")
        );
        assert_eq!(find_marker("no marker abm-12"), None);
    }
}
