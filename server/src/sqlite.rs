//! The embedded store: one SQLite connection, its writers one at a time.
//!
//! SQLite lets one writer in at a time, so the connection sits behind a lock held from the
//! key check to the commit. A second request with a key that is being processed does not wait
//! for that lock: it is told 409 from a set of keys in flight, which is enough because one
//! process owns the file. (Several instances need the PostgreSQL store.)

use std::collections::HashSet;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::OwnedMutexGuard;

use crate::key::Keyed;
use crate::store::{Answer, Begin, DEFAULT_KEY_TTL, Store, StoreError};

/// The key table; run by [`SqliteStore::new`], safe to run again.
pub fn migration() -> String {
    crate::store::key_table("BLOB", "INTEGER")
}

/// How many transactions go by between two sweeps of expired keys.
const SWEEP_EVERY: u64 = 256;

#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    in_flight: Mutex<HashSet<String>>,
    ttl_ms: i64,
    begun: AtomicU64,
}

impl SqliteStore {
    /// Takes the app's connection and adds the key table to its database; keys are kept 48 hours.
    pub fn new(conn: Connection) -> rusqlite::Result<Self> {
        Self::with_key_ttl(conn, DEFAULT_KEY_TTL)
    }

    /// As [`SqliteStore::new`], keeping each key's answer for `ttl`.
    pub fn with_key_ttl(conn: Connection, ttl: Duration) -> rusqlite::Result<Self> {
        conn.execute_batch(&migration())?;
        let shared = Shared {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            in_flight: Mutex::new(HashSet::new()),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            begun: AtomicU64::new(0),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Opens the database file, or an in-memory one when no path is given.
    pub fn open(path: Option<&Path>) -> rusqlite::Result<Self> {
        Self::new(match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        })
    }

    /// The connection, for reads and for work outside a mutation (migrations, resets). No
    /// mutation's transaction is open while it is held.
    pub async fn lock(&self) -> OwnedMutexGuard<Connection> {
        self.shared.conn.clone().lock_owned().await
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A key marked in flight until its transaction ends.
struct Claim {
    key: String,
    shared: Arc<Shared>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.shared
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// The connection with a mutation's transaction open; dropped unfinished, it rolls back.
pub struct SqliteConn {
    conn: OwnedMutexGuard<Connection>,
    _claim: Option<Claim>,
}

impl Deref for SqliteConn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for SqliteConn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // Nobody is left to tell; the next `BEGIN` would fail on the open transaction.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A stored key row: its fingerprint, its answer (headers still as text), when it was made.
struct Row {
    method: String,
    path: String,
    body_sha256: String,
    status: u16,
    headers: String,
    body: Vec<u8>,
    created_at: i64,
}

impl Row {
    fn answer(self) -> Result<Answer, StoreError> {
        Ok(Answer {
            status: self.status,
            headers: Answer::parse_headers(&self.headers)?,
            body: self.body,
        })
    }
}

fn find(conn: &Connection, key: &str) -> rusqlite::Result<Option<Row>> {
    conn.query_row(
        "SELECT method, path, body_sha256, status, headers, body, created_at FROM offline_sync_keys WHERE key = ?1",
        [key],
        |r| {
            Ok(Row {
                method: r.get(0)?,
                path: r.get(1)?,
                body_sha256: r.get(2)?,
                status: r.get(3)?,
                headers: r.get(4)?,
                body: r.get(5)?,
                created_at: r.get(6)?,
            })
        },
    )
    .optional()
}

impl Store for SqliteStore {
    type Conn = SqliteConn;

    async fn begin(
        &self,
        keyed: Option<&Keyed>,
        now_ms: i64,
    ) -> Result<Begin<SqliteConn>, StoreError> {
        let claim = match keyed {
            None => None,
            Some(keyed) => {
                if !self
                    .shared
                    .in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(keyed.key.clone())
                {
                    return Ok(Begin::InFlight);
                }
                Some(Claim {
                    key: keyed.key.clone(),
                    shared: self.shared.clone(),
                })
            }
        };
        let conn = SqliteConn {
            conn: self.lock().await,
            _claim: claim,
        };
        conn.execute_batch("BEGIN IMMEDIATE").map_err(unavailable)?;
        let expired_before = now_ms.saturating_sub(self.shared.ttl_ms);
        if self
            .shared
            .begun
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            conn.execute(
                "DELETE FROM offline_sync_keys WHERE created_at < ?1",
                [expired_before],
            )
            .map_err(unavailable)?;
        }
        let Some(keyed) = keyed else {
            return Ok(Begin::Fresh(conn));
        };
        Ok(match find(&conn, &keyed.key).map_err(unavailable)? {
            None => Begin::Fresh(conn),
            Some(row) if row.created_at < expired_before => {
                conn.execute("DELETE FROM offline_sync_keys WHERE key = ?1", [&keyed.key])
                    .map_err(unavailable)?;
                Begin::Fresh(conn)
            }
            Some(row) if keyed.matches(&row.method, &row.path, &row.body_sha256) => {
                Begin::Replay(row.answer()?)
            }
            Some(_) => Begin::Mismatch,
        })
    }

    async fn commit(
        &self,
        conn: SqliteConn,
        keyed: Option<&Keyed>,
        answer: &Answer,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if let Some(keyed) = keyed {
            conn.execute(
                "INSERT INTO offline_sync_keys (key, method, path, body_sha256, status, headers, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![keyed.key, keyed.method, keyed.path, keyed.body_sha256, answer.status, answer.headers_json(), answer.body, now_ms],
            )
            .map_err(unavailable)?;
        }
        conn.execute_batch("COMMIT").map_err(unavailable)
    }

    async fn rollback(&self, conn: SqliteConn) {
        drop(conn);
    }
}
