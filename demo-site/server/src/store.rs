//! The SQLite store: the synced collections, the change sequence and the idempotency records,
//! changed together in one transaction so a crash can never apply a change without also
//! recording its sequence number and its answer.

use std::path::Path;

use rusqlite::Connection;

use crate::idempotency::{self, Answer, Keyed, Prior};
use crate::schema;

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
        let mut conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        schema::upgrade(&mut conn)?;
        Ok(Self { conn })
    }

    /// Reads without changing anything. The caller holds the store lock, so no write is
    /// half-visible.
    pub fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        query(&self.conn)
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

    /// Forgets every record and every idempotency key, and restarts the change sequence.
    pub fn reset(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(schema::RESET)?;
        tx.commit()
    }
}
