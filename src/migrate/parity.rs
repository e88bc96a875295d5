//! Parity of source and target, as row-level verifiers do it (CockroachDB's `molt
//! verify`, pgcopydb's compare): both sides read page by page in id order and joined;
//! per entity a content hash over its owner, title, current version and every
//! version's time and body, the bodies as read back from each store; counts of
//! missing, extra and mismatched entities, versions lost and doubled; a checksum per
//! logical table computed in each database; and the target's objects, per key prefix,
//! against the keys the source's bodies should be under.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::arch::{EntityId, EntitySnapshot, OpResult, Portable};
use crate::results::migration::{Mismatch, ObjectParity, Parity, TableParity};

/// Ids kept per kind of difference.
const KEPT: usize = 20;

/// The content hash of one entity as one system holds it.
pub fn content_hash(s: &EntitySnapshot) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(s.id.0.as_bytes());
    h.update(s.user.0.to_le_bytes());
    h.update((s.title.len() as u64).to_le_bytes());
    h.update(s.title.as_bytes());
    h.update(s.version.to_le_bytes());
    for v in &s.versions {
        h.update(v.version.to_le_bytes());
        h.update(v.at.timestamp_micros().to_le_bytes());
        h.update(Sha256::digest(v.body.as_bytes()));
    }
    h.finalize().into()
}

/// Keys and sizes per prefix.
type Objects = BTreeMap<String, BTreeSet<(String, u64)>>;

/// Compares `target` with `source`, `page` entities at a time.
pub async fn check(
    source: &dyn Portable,
    target: &dyn Portable,
    checked: &str,
    page: i64,
) -> OpResult<Parity> {
    let started = Instant::now();
    let mut parity = Parity {
        checked: checked.to_string(),
        ..Parity::default()
    };
    let mut expected = Objects::new();
    let base = target.object_base();
    let mut cursor: Option<EntityId> = None;
    loop {
        let src = source.export_page(cursor, None, page).await?;
        let through = src.last().map(|s| s.id);
        // Up to the source page's last id the target is read whole; past the source's
        // end, page by page (all of it is extra).
        let limit = if through.is_some() { i64::MAX } else { page };
        let tgt = target.export_page(cursor, through, limit).await?;
        if src.is_empty() && tgt.is_empty() {
            break;
        }
        for s in &src {
            for v in &s.versions {
                let key = target.object_key(s.id, v.version, &v.body);
                expected
                    .entry(prefix(base, &key))
                    .or_default()
                    .insert((key, v.body.len() as u64));
            }
        }
        join(&src, &tgt, &mut parity);
        cursor = through.or_else(|| tgt.last().map(|t| t.id));
    }
    parity.objects = objects(expected, target.objects().await?, base);
    parity.tables = tables(source, target).await?;
    parity.seconds = started.elapsed().as_secs_f64();
    Ok(parity)
}

fn prefix(base: &str, key: &str) -> String {
    let rest = key.strip_prefix(base).unwrap_or(key);
    let end = rest.char_indices().nth(2).map_or(rest.len(), |(i, _)| i);
    format!("{base}{}", &rest[..end])
}

/// One page of each side, both in id order.
fn join(src: &[EntitySnapshot], tgt: &[EntitySnapshot], parity: &mut Parity) {
    let by_id: BTreeMap<EntityId, &EntitySnapshot> = tgt.iter().map(|t| (t.id, t)).collect();
    let sources: BTreeSet<EntityId> = src.iter().map(|s| s.id).collect();
    for s in src {
        parity.entities += 1;
        let Some(t) = by_id.get(&s.id) else {
            parity.missing += 1;
            parity.missing_versions += s.versions.len() as u64;
            sample(
                parity,
                "missing",
                s.id,
                format!("{} versions", s.versions.len()),
            );
            continue;
        };
        let held: BTreeSet<i32> = t.versions.iter().map(|v| v.version).collect();
        parity.missing_versions += s
            .versions
            .iter()
            .filter(|v| !held.contains(&v.version))
            .count() as u64;
        parity.duplicated_versions += (t.versions.len() - held.len()) as u64;
        if content_hash(s) != content_hash(t) {
            parity.mismatched += 1;
            sample(parity, "mismatched", s.id, difference(s, t));
        }
    }
    for t in tgt.iter().filter(|t| !sources.contains(&t.id)) {
        parity.entities += 1;
        parity.extra += 1;
        sample(
            parity,
            "extra",
            t.id,
            format!("{} versions", t.versions.len()),
        );
    }
}

fn sample(parity: &mut Parity, kind: &str, id: EntityId, detail: String) {
    if parity.samples.iter().filter(|m| m.op == kind).count() < KEPT {
        parity.samples.push(Mismatch {
            op: kind.to_string(),
            key: id.to_string(),
            detail,
        });
    }
}

/// What differs between two snapshots of one entity, first thing first.
fn difference(s: &EntitySnapshot, t: &EntitySnapshot) -> String {
    if (s.user, &s.title, s.version) != (t.user, &t.title, t.version) {
        return format!(
            "entity row: version {} vs {}, title or owner {}",
            s.version,
            t.version,
            if (s.user, &s.title) == (t.user, &t.title) {
                "same"
            } else {
                "different"
            }
        );
    }
    if s.versions.len() != t.versions.len() {
        return format!("{} vs {} versions", s.versions.len(), t.versions.len());
    }
    match s.versions.iter().zip(&t.versions).find(|(a, b)| a != b) {
        Some((a, b)) if a.body != b.body => format!(
            "version {}: body {} vs {} bytes, SHA-256 {} vs {}",
            a.version,
            a.body.len(),
            b.body.len(),
            &hex::encode(Sha256::digest(a.body.as_bytes()))[..12],
            &hex::encode(Sha256::digest(b.body.as_bytes()))[..12]
        ),
        Some((a, b)) => format!("version {}: time {} vs {}", a.version, a.at, b.at),
        None => "same content, different hash".into(),
    }
}

fn objects(expected: Objects, listed: Vec<(String, u64)>, base: &str) -> ObjectParity {
    let mut present = Objects::new();
    for (key, size) in listed {
        present
            .entry(prefix(base, &key))
            .or_default()
            .insert((key, size));
    }
    let prefixes: BTreeSet<&String> = expected.keys().chain(present.keys()).collect();
    let empty = BTreeSet::new();
    let mut out = ObjectParity {
        prefixes: prefixes.len() as u64,
        ..ObjectParity::default()
    };
    for p in prefixes {
        let want = expected.get(p).unwrap_or(&empty);
        let have = present.get(p).unwrap_or(&empty);
        let want_keys: BTreeSet<&String> = want.iter().map(|(k, _)| k).collect();
        let have_keys: BTreeSet<&String> = have.iter().map(|(k, _)| k).collect();
        out.missing += want_keys.difference(&have_keys).count() as u64;
        out.unreferenced += have_keys.difference(&want_keys).count() as u64;
        // Unreferenced objects are garbage, not a difference: the checksum covers the
        // objects the bodies should be in.
        let referenced: BTreeSet<&(String, u64)> =
            have.iter().filter(|(k, _)| want_keys.contains(k)).collect();
        if prefix_checksum(want.iter()) != prefix_checksum(referenced.into_iter()) {
            out.mismatched_prefixes += 1;
        }
    }
    out
}

/// SHA-256 of sorted `key size` lines.
fn prefix_checksum<'a>(objects: impl Iterator<Item = &'a (String, u64)>) -> [u8; 32] {
    let mut h = Sha256::new();
    for (key, size) in objects {
        h.update(format!("{key} {size}\n").as_bytes());
    }
    h.finalize().into()
}

async fn tables(source: &dyn Portable, target: &dyn Portable) -> OpResult<Vec<TableParity>> {
    let theirs = target.table_checksums().await?;
    Ok(source
        .table_checksums()
        .await?
        .into_iter()
        .filter_map(|s| {
            let t = theirs.iter().find(|t| t.table == s.table)?;
            Some(TableParity {
                table: s.table.to_string(),
                source: s.relation.to_string(),
                source_rows: s.rows,
                target: t.relation.to_string(),
                target_rows: t.rows,
                matches: s.md5 == t.md5 && s.rows == t.rows,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{UserId, VersionSnapshot};

    fn entity(n: u128, bodies: &[&str]) -> EntitySnapshot {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        EntitySnapshot {
            id: EntityId(uuid::Uuid::from_u128(n)),
            user: UserId(1),
            title: "t".into(),
            version: bodies.len() as i32,
            versions: bodies
                .iter()
                .enumerate()
                .map(|(i, b)| VersionSnapshot {
                    version: i as i32 + 1,
                    at,
                    body: b.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_join_counts_each_kind_of_difference() {
        let src = vec![entity(1, &["a"]), entity(2, &["a", "b"]), entity(3, &["c"])];
        let mut doubled = entity(2, &["a", "b"]);
        doubled.versions.push(doubled.versions[1].clone());
        let tgt = vec![entity(1, &["a"]), doubled, entity(4, &["d"])];
        let mut p = Parity::default();
        join(&src, &tgt, &mut p);
        assert_eq!((p.entities, p.missing, p.extra, p.mismatched), (4, 1, 1, 1));
        assert_eq!((p.missing_versions, p.duplicated_versions), (1, 1));
        assert_eq!(p.samples.len(), 3);
    }

    #[test]
    fn a_changed_body_changes_the_hash() {
        assert_eq!(
            content_hash(&entity(1, &["a"])),
            content_hash(&entity(1, &["a"]))
        );
        assert_ne!(
            content_hash(&entity(1, &["a"])),
            content_hash(&entity(1, &["b"]))
        );
    }

    #[test]
    fn objects_are_compared_per_prefix() {
        let base = "v03/content/";
        let key = |h: &str| format!("{base}{h}");
        let mut expected = Objects::new();
        for k in ["ab1", "ab2", "cd1"] {
            expected
                .entry(prefix(base, &key(k)))
                .or_default()
                .insert((key(k), 10));
        }
        let listed = vec![(key("ab1"), 10), (key("ab2"), 9), (key("ef9"), 3)];
        let o = objects(expected, listed, base);
        assert_eq!(o.prefixes, 3);
        assert_eq!(
            (o.missing, o.unreferenced, o.mismatched_prefixes),
            (1, 1, 2)
        );
    }
}
