//! The two things the collections ask of a database, running a statement and running a
//! query, each with [`Cell`] parameters and results; and [`Backend`], which gives a handler
//! its [`Rows`] inside a mutation's transaction or for a read.

use std::fmt;
use std::future::Future;

use offline_sync_server::Store;

use crate::cell::Cell;

#[derive(Debug)]
pub enum DbError {
    /// The database could not be reached, or the connection broke: worth retrying (503).
    Unavailable(String),
    /// The statement failed (500).
    Failed(String),
    /// A row read back that this server could not have written (500).
    Corrupt(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "database unavailable: {why}"),
            Self::Failed(why) => write!(f, "database error: {why}"),
            Self::Corrupt(why) => write!(f, "unreadable row: {why}"),
        }
    }
}

pub trait Rows: Send {
    /// Runs a statement; how many rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: &[Cell],
    ) -> impl Future<Output = Result<u64, DbError>> + Send;

    /// Runs a query; each row's cells in column order.
    fn query(
        &mut self,
        sql: &str,
        params: &[Cell],
    ) -> impl Future<Output = Result<Vec<Vec<Cell>>, DbError>> + Send;

    /// Runs several statements, no parameters (resets).
    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// A store the demo's collections run on.
pub trait Backend: Store + Clone {
    type Rows<'a>: Rows;
    /// A connection for reads, outside any mutation.
    type Reader: Send + 'static;

    /// The mutation's transaction, as [`Rows`].
    fn rows(conn: &mut Self::Conn) -> Self::Rows<'_>;

    fn reader(&self) -> impl Future<Output = Result<Self::Reader, DbError>> + Send;

    fn reader_rows(reader: &mut Self::Reader) -> Self::Rows<'_>;
}
