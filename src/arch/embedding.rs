//! Deterministic text embedding shared by both systems: hashed token features, 384
//! dimensions, L2-normalised. No model, no download, same vector for the same text on
//! every machine, so search results are comparable between systems and runs.

use std::hash::Hasher;

/// Dimensions of every embedding (the size of all-MiniLM-L6-v2, a common choice).
pub const DIMS: usize = 384;

/// What the vectors are, for reports: hashed tokens have no semantic neighbourhoods,
/// so their nearest neighbours are harder for HNSW than a sentence model's.
pub const DESCRIPTION: &str = "hashed-token features (FNV-1a, 384 dimensions, 1 + ln tf, \
    L2-normalised), not a sentence model: no semantic clusters, which makes HNSW's \
    recall lower than real embeddings would give at the same ef_search";

/// Embeds `text`: each lower-cased alphanumeric token adds `1 + ln(tf)`-weighted ±1 to
/// the dimension its FNV-1a hash picks (the sign from another hash bit, so collisions
/// cancel rather than pile up), then the vector is scaled to unit length.
pub fn embed(text: &str) -> Vec<f32> {
    let mut counts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for token in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
    {
        *counts.entry(token).or_insert(0) += 1;
    }
    let mut v = vec![0f32; DIMS];
    for (token, tf) in counts {
        let mut h = fnv::FnvHasher::default();
        h.write(token.as_bytes());
        let hash = h.finish();
        let idx = (hash % DIMS as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        v[idx] += sign * (1.0 + (tf as f32).ln());
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        // Cosine distance of a zero vector is undefined; an empty text gets a fixed axis.
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_deterministic() {
        let a = embed("Quarterly report: revenue grew in Q3");
        assert_eq!(a.len(), DIMS);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(a, embed("quarterly REPORT revenue grew in q3"));
    }

    #[test]
    fn similar_texts_score_higher_than_unrelated_ones() {
        let q = embed("postgres timescale hypertable events");
        let near = embed("events stored in a timescale hypertable on postgres, compressed");
        let far = embed("banana bread recipe with walnuts and cinnamon");
        assert!(cosine(&q, &near) > cosine(&q, &far) + 0.3);
    }

    #[test]
    fn empty_text_has_a_defined_vector() {
        let e = embed("  ...  ");
        assert_eq!(e[0], 1.0);
        assert!((cosine(&e, &e) - 1.0).abs() < 1e-6);
    }
}
