//! The store for many instances: PostgreSQL, through a deadpool of tokio-postgres connections.
//!
//! Instances on one database act as one server. Whether a key is in flight is decided in the
//! database, never in process memory: each mutation takes a transaction-scoped advisory lock on
//! its key (`pg_try_advisory_xact_lock`). An instance that cannot take it answers 409; the lock
//! is released by the commit that stores the first answer, so whoever comes next finds it. A
//! lost connection releases it too.

use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::key::Keyed;
use crate::store::{Answer, Begin, DEFAULT_KEY_TTL, Store, StoreError};

/// The key table; run by [`PgStore::connect`], safe to run again.
pub fn migration() -> String {
    crate::store::key_table("BYTEA", "BIGINT")
}

/// How long to wait for a connection, or for the database to answer one, before saying 503.
const PATIENCE: Duration = Duration::from_secs(5);

/// How many transactions go by between two sweeps of expired keys.
const SWEEP_EVERY: u64 = 256;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    ttl_ms: i64,
    begun: Arc<AtomicU64>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and adds the key table; keys are
    /// kept 48 hours.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| unavailable(format!("{url}: {e}")))?;
        config.connect_timeout(PATIENCE);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(PATIENCE))
            .create_timeout(Some(PATIENCE))
            .build()
            .map_err(unavailable)?;
        let store = Self {
            pool,
            ttl_ms: i64::try_from(DEFAULT_KEY_TTL.as_millis()).unwrap_or(i64::MAX),
            begun: Arc::default(),
        };
        store
            .client()
            .await?
            .batch_execute(&migration())
            .await
            .map_err(unavailable)?;
        Ok(store)
    }

    /// Keeps each key's answer for `ttl`.
    pub fn key_ttl(self, ttl: Duration) -> Self {
        Self {
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            ..self
        }
    }

    /// A connection from the pool, for reads and for work outside a mutation.
    pub async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }
}

/// A pooled connection with a mutation's transaction open. Dropped unfinished, it is closed
/// rather than returned to the pool, so the database rolls the transaction back.
pub struct PgConn {
    client: Option<Object>,
}

impl PgConn {
    fn client(&self) -> Result<&Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the connection was already closed".into()))
    }

    /// Ends the transaction with `statement` and hands the connection back to the pool.
    async fn end(mut self, statement: &str) -> Result<(), StoreError> {
        let client = self.client()?;
        client.batch_execute(statement).await.map_err(unavailable)?;
        self.client.take();
        Ok(())
    }
}

impl Deref for PgConn {
    type Target = tokio_postgres::Client;

    /// The transaction's client. Only [`PgConn::end`] and `Drop` take the connection, and
    /// both consume the `PgConn`, so it is always there while borrowed.
    fn deref(&self) -> &tokio_postgres::Client {
        match &self.client {
            Some(client) => client,
            None => unreachable!("a PgConn holds its connection until it is consumed"),
        }
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl Store for PgStore {
    type Conn = PgConn;

    async fn begin(&self, keyed: Option<&Keyed>, now_ms: i64) -> Result<Begin<PgConn>, StoreError> {
        let conn = PgConn {
            client: Some(self.client().await?),
        };
        let client = conn.client()?;
        client.batch_execute("BEGIN").await.map_err(unavailable)?;
        let expired_before = now_ms.saturating_sub(self.ttl_ms);
        if self
            .begun
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            client
                .execute(
                    "DELETE FROM offline_sync_keys WHERE created_at < $1",
                    &[&expired_before],
                )
                .await
                .map_err(unavailable)?;
        }
        let Some(keyed) = keyed else {
            return Ok(Begin::Fresh(conn));
        };
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&keyed.key],
            )
            .await
            .map_err(unavailable)?
            .get(0);
        if !locked {
            conn.end("ROLLBACK").await?;
            return Ok(Begin::InFlight);
        }
        let row = client
            .query_opt(
                "SELECT method, path, body_sha256, status, headers, body, created_at FROM offline_sync_keys WHERE key = $1",
                &[&keyed.key],
            )
            .await
            .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(Begin::Fresh(conn));
        };
        let read =
            |e: tokio_postgres::Error| StoreError::Corrupt(format!("key {:?}: {e}", keyed.key));
        let created_at: i64 = row.try_get(6).map_err(read)?;
        if created_at < expired_before {
            client
                .execute(
                    "DELETE FROM offline_sync_keys WHERE key = $1",
                    &[&keyed.key],
                )
                .await
                .map_err(unavailable)?;
            return Ok(Begin::Fresh(conn));
        }
        let (method, path, sha): (String, String, String) = (
            row.try_get(0).map_err(read)?,
            row.try_get(1).map_err(read)?,
            row.try_get(2).map_err(read)?,
        );
        let begin = if keyed.matches(&method, &path, &sha) {
            let status: i32 = row.try_get(3).map_err(read)?;
            let headers: String = row.try_get(4).map_err(read)?;
            let status = u16::try_from(status).map_err(|_| {
                StoreError::Corrupt(format!("key {:?}: status {status}", keyed.key))
            })?;
            Begin::Replay(Answer {
                status,
                headers: Answer::parse_headers(&headers)?,
                body: row.try_get(5).map_err(read)?,
            })
        } else {
            Begin::Mismatch
        };
        conn.end("ROLLBACK").await?;
        Ok(begin)
    }

    async fn commit(
        &self,
        conn: PgConn,
        keyed: Option<&Keyed>,
        answer: &Answer,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if let Some(keyed) = keyed {
            conn.client()?
                .execute(
                    "INSERT INTO offline_sync_keys (key, method, path, body_sha256, status, headers, body, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &keyed.key,
                        &keyed.method,
                        &keyed.path,
                        &keyed.body_sha256,
                        &i32::from(answer.status),
                        &answer.headers_json(),
                        &answer.body,
                        &now_ms,
                    ],
                )
                .await
                .map_err(unavailable)?;
        }
        conn.end("COMMIT").await
    }

    async fn rollback(&self, conn: PgConn) {
        // A failed ROLLBACK leaves nothing to do: dropping the connection rolls back too.
        let _ = conn.end("ROLLBACK").await;
    }
}
