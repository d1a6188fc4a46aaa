//! The SQLite store: tasks plus idempotency records, changed together in one transaction so a
//! crash can never apply a change without also recording its answer.

use std::path::Path;

use rusqlite::Connection;

use crate::idempotency::{self, Answer, Keyed, Prior};
use crate::task::{self, Task};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT,
    response BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// How a mutation went.
pub enum Applied {
    /// Applied now (and recorded, when keyed).
    Fresh(Answer),
    /// The key was seen before with the same request: its stored answer, nothing changed.
    Replayed(Answer),
    /// The key was seen before with a different request: nothing changed.
    KeyReused,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the database file, or an in-memory one when no path is given.
    pub fn open(path: Option<&Path>) -> rusqlite::Result<Self> {
        let conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    pub fn tasks(&self) -> rusqlite::Result<Vec<Task>> {
        task::list(&self.conn)
    }

    /// Runs `change` in a transaction; when keyed, first checks the key and then stores the
    /// answer in that same transaction. An `Err` from `change` rolls everything back.
    pub fn apply(
        &mut self,
        keyed: Option<&Keyed>,
        now: i64,
        change: impl FnOnce(&Connection) -> rusqlite::Result<Answer>,
    ) -> rusqlite::Result<Applied> {
        let tx = self.conn.transaction()?;
        if let Some(request) = keyed {
            match idempotency::find(&tx, request)? {
                Prior::Same(answer) => return Ok(Applied::Replayed(answer)),
                Prior::Different => return Ok(Applied::KeyReused),
                Prior::Unseen => {}
            }
        }
        let answer = change(&tx)?;
        if let Some(request) = keyed {
            idempotency::record(&tx, request, &answer, now)?;
        }
        tx.commit()?;
        Ok(Applied::Fresh(answer))
    }

    /// Forgets every task and every idempotency key.
    pub fn reset(&mut self) -> rusqlite::Result<()> {
        self.conn
            .execute_batch("DELETE FROM tasks; DELETE FROM idempotency;")
    }
}
