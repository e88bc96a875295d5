//! Batches written with the stores' bulk paths: rows for `COPY ... FROM STDIN` into
//! several tables, copied inside one transaction so that a batch is all or nothing
//! (seeding, and a migration's backfill and repair, rely on that), and the objects
//! the rows refer to, written or read with bounded concurrency.

use sqlx::PgConnection;

use super::common::{get_object, put_many};
use super::{ArchError, OpKind};

/// Rows per table of one batch, in the order they are copied.
#[derive(Debug, Default)]
pub struct Bulk {
    tables: Vec<(&'static str, String)>,
    /// Objects the rows refer to: written before the rows commit, so that no row ever
    /// points at a missing object.
    pub objects: Vec<(String, Vec<u8>)>,
}

impl Bulk {
    /// The text-format rows of `target` (`schema.table (columns)`), created empty on
    /// first use.
    pub fn rows(&mut self, target: &'static str) -> &mut String {
        let at = match self.tables.iter().position(|(t, _)| *t == target) {
            Some(at) => at,
            None => {
                self.tables.push((target, String::new()));
                self.tables.len() - 1
            }
        };
        &mut self.tables[at].1
    }

    /// PUTs the objects (16 in flight), then copies every table's rows on `conn`,
    /// which the caller has put inside a transaction.
    pub async fn write(
        self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        conn: &mut PgConnection,
    ) -> Result<(), ArchError> {
        put_many(s3, bucket, self.objects, 16).await?;
        for (target, rows) in &self.tables {
            if rows.is_empty() {
                continue;
            }
            copy_rows(conn, target, rows)
                .await
                .map_err(ArchError::pg(OpKind::Create))?;
        }
        Ok(())
    }
}

/// Streams `rows` (text format, one row per line) into `COPY <target> FROM STDIN` on
/// one connection.
async fn copy_rows(conn: &mut PgConnection, target: &str, rows: &str) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} FROM STDIN"))
        .await?;
    copy.send(rows.as_bytes()).await?;
    copy.finish().await
}

/// Reads many objects with at most `concurrency` requests in flight; the bytes come
/// back in the order of `keys`, each read's failure apart.
pub async fn get_many(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    keys: Vec<String>,
    concurrency: usize,
) -> Vec<Result<Vec<u8>, ArchError>> {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let count = keys.len();
    for (index, key) in keys.into_iter().enumerate() {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (s3, bucket) = (s3.clone(), bucket.to_string());
        tasks.spawn(async move {
            let _permit = permit;
            (index, get_object(&s3, &bucket, &key, OpKind::Get).await)
        });
    }
    let mut out: Vec<Result<Vec<u8>, ArchError>> = (0..count)
        .map(|_| Err(ArchError::Setup("object read task ended early".into())))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, bytes)) = joined {
            out[index] = bytes;
        }
    }
    out
}
