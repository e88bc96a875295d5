//! The truth a search is scored against: every stored vector of the query's user,
//! compared in f64 apart from PostgreSQL; recall@k counts a returned row when its true
//! distance is within the k-th (ties count, as ann-benchmarks counts them).

use std::collections::HashMap;

use pgvector::Vector;
use uuid::Uuid;

/// A returned row within this of the k-th true distance counts as a true neighbour
/// (float rounding between pgvector's f32 and the f64 truth).
const TIE_EPSILON: f64 = 1e-5;

/// One query of the fixed set.
pub(super) struct Query {
    pub(super) user: i64,
    pub(super) vector: Vector,
    /// Row ids within the k-th true distance, with that distance.
    pub(super) truth: Truth,
}

pub(super) struct Truth {
    /// The k-th smallest true distance among the user's rows (∞ when none).
    pub(super) kth: f64,
    /// Per row of the user, its true distance to the query.
    pub(super) distance: HashMap<Uuid, f64>,
    /// min(k, the user's rows): the most a search can find.
    pub(super) reachable: usize,
}

impl Truth {
    /// Recall of `found`: rows of the user within the k-th true distance, over the
    /// reachable count (a row of another user, or beyond, counts nothing).
    pub(super) fn recall(&self, found: &[Uuid]) -> f64 {
        if self.reachable == 0 {
            return 1.0;
        }
        let hits = found
            .iter()
            .filter(|id| {
                self.distance
                    .get(id)
                    .is_some_and(|d| *d <= self.kth + TIE_EPSILON)
            })
            .count()
            .min(self.reachable);
        hits as f64 / self.reachable as f64
    }
}

/// Cosine distance in f64, as pgvector's `<=>` defines it.
pub(super) fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        // pgvector answers NaN for a zero vector; it sorts last there.
        return f64::INFINITY;
    }
    1.0 - dot / (na.sqrt() * nb.sqrt())
}

pub(super) fn truth(q: &[f32], rows: &[(Uuid, Vec<f32>)], k: usize) -> Truth {
    let distance: HashMap<Uuid, f64> = rows
        .iter()
        .map(|(id, v)| (*id, cosine_distance(q, v)))
        .collect();
    let mut sorted: Vec<f64> = distance.values().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let reachable = k.min(sorted.len());
    let kth = if reachable == 0 {
        f64::INFINITY
    } else {
        sorted[reachable - 1]
    };
    Truth {
        kth,
        distance,
        reachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn recall_counts_rows_within_the_kth_true_distance_ties_included() {
        let rows = vec![
            (id(1), vec![1.0, 0.0]),
            (id(2), vec![0.9, 0.1]),
            (id(3), vec![0.9, 0.1]), // a tie with 2
            (id(4), vec![0.0, 1.0]),
        ];
        let t = truth(&[1.0, 0.0], &rows, 2);
        assert_eq!(t.reachable, 2);
        assert_eq!(t.recall(&[id(1), id(2)]), 1.0);
        // The tie is as good as the row it ties with.
        assert_eq!(t.recall(&[id(1), id(3)]), 1.0);
        assert_eq!(t.recall(&[id(1), id(4)]), 0.5);
        // Another user's row counts nothing.
        assert_eq!(t.recall(&[id(9), id(4)]), 0.0);
        // A user with fewer rows than k: all of them is full recall.
        let t = truth(&[1.0, 0.0], &rows[..1], 10);
        assert_eq!(t.reachable, 1);
        assert_eq!(t.recall(&[id(1)]), 1.0);
    }

    #[test]
    fn cosine_distance_matches_pgvector_definition() {
        assert!((cosine_distance(&[1.0, 0.0], &[1.0, 0.0])).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[-2.0, 0.0]) - 2.0).abs() < 1e-12);
        assert!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]).is_infinite());
    }
}
