//! Everything that can go wrong in the worker, as values.

use crate::entry::RecordError;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// IndexedDB refused or failed (quota, aborted transaction, unavailable).
    Storage(String),
    /// No answer from the server: offline, refused, reset.
    Network(String),
    /// A stored record that cannot be replayed.
    Record(RecordError),
    /// A browser API threw where it should not have.
    Browser(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Storage(m) => write!(f, "storage error: {m}"),
            Error::Network(m) => write!(f, "network error: {m}"),
            Error::Record(RecordError(m)) => f.write_str(m),
            Error::Browser(m) => write!(f, "browser error: {m}"),
        }
    }
}

impl std::error::Error for Error {}
