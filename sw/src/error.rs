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
    /// The next entry may not be sent before this time (ms since the epoch): replay later.
    Deferred(f64),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Storage(m) => write!(f, "storage error: {m}"),
            Error::Network(m) => write!(f, "network error: {m}"),
            Error::Record(RecordError(m)) => f.write_str(m),
            Error::Browser(m) => write!(f, "browser error: {m}"),
            Error::Deferred(at) => write!(f, "the next entry waits until {} (ms since the epoch)", *at as u64),
        }
    }
}

impl std::error::Error for Error {}
