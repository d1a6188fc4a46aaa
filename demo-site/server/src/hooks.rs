//! What the `/_test/` hooks hold: a log of every API request and injectable faults, so browser
//! tests can see what the service worker really sent and make the network misbehave on cue.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// What happened to a logged request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Handled normally with a 2xx answer.
    Applied,
    /// Answered from a stored Idempotency-Key record; nothing changed.
    Replayed,
    /// Answered with an error (bad request, 404, 409, 422, injected 503, ...).
    Rejected,
    /// Handled (and committed), then the connection was closed without an answer.
    Dropped,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body_base64: String,
    pub idempotency_key: Option<String>,
    pub outcome: Outcome,
    pub status: u16,
}

/// Remaining injected faults; each mutating API request uses up one, drops first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    pub drop_after_apply: u32,
    pub fail503: u32,
    /// Seconds sent in `Retry-After` with each injected 503.
    pub retry_after: u32,
    /// While set, a mutation without exactly this `Authorization` header gets 401 (not used up).
    pub require_auth: Option<String>,
    /// Once the counters are used up: the share of mutations applied and then dropped…
    pub drop_rate: f64,
    /// …and the share answered 503 with `Retry-After`, drawn from a seeded generator.
    pub fail503_rate: f64,
    /// The generator's state; the same seed gives the same faults in the same order.
    pub seed: u64,
    /// While set, every mutation is held this many ms before it is applied (a slow network:
    /// time for a test to kill the worker mid-request).
    pub delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            drop_after_apply: 0,
            fail503: 0,
            retry_after: 1,
            require_auth: None,
            drop_rate: 0.0,
            fail503_rate: 0.0,
            seed: 1,
            delay_ms: 0,
        }
    }
}

/// The fault a request drew.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    DropAfterApply,
    Unauthorized,
    Unavailable { retry_after: u32 },
}

#[derive(Default)]
struct Journal {
    next_seq: u64,
    entries: Vec<LogEntry>,
}

/// How many mutations were being handled at once, at most: in all, on one path, and how many
/// paths. (A browser's own resend of a request whose connection broke can overlap the original on
/// its path, so only the count of paths says for sure that a client sent two requests at once.)
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overlap {
    pub max_in_flight: u32,
    pub max_in_flight_on_one_path: u32,
    pub max_paths_in_flight: u32,
    #[serde(skip)]
    in_flight: BTreeMap<String, u32>,
}

/// Counts a mutation as in flight until dropped (also when its connection is cut).
pub struct InFlight<'a> {
    hooks: &'a TestHooks,
    path: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut overlap = lock(&self.hooks.overlap);
        if let Some(n) = overlap.in_flight.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                overlap.in_flight.remove(&self.path);
            }
        }
    }
}

#[derive(Default)]
pub struct TestHooks {
    journal: Mutex<Journal>,
    faults: Mutex<Faults>,
    overlap: Mutex<Overlap>,
}

/// A uniform draw in [0, 1) from xorshift64* (plenty for spreading faults; not for secrets).
fn next_unit(state: &mut u64) -> f64 {
    let mut x = if *state == 0 {
        0x9E37_79B9_7F4A_7C15
    } else {
        *state
    };
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

/// The hooks only hold plain data, so a lock poisoned by a panic is still fine to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestHooks {
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.journal).entries.clone()
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    pub fn overlap(&self) -> Overlap {
        lock(&self.overlap).clone()
    }

    /// Numbers a request as it arrives, so the log keeps arrival order even when answers
    /// finish out of order.
    pub fn arrive(&self) -> u64 {
        let mut journal = lock(&self.journal);
        journal.next_seq += 1;
        journal.next_seq
    }

    pub fn record(&self, entry: LogEntry) {
        let mut journal = lock(&self.journal);
        let at = journal.entries.partition_point(|e| e.seq < entry.seq);
        journal.entries.insert(at, entry);
    }

    /// Marks a mutation on `path` as in flight while the returned guard lives.
    pub fn in_flight(&self, path: &str) -> InFlight<'_> {
        let mut overlap = lock(&self.overlap);
        let on_path = overlap.in_flight.entry(path.to_owned()).or_default();
        *on_path += 1;
        let on_path = *on_path;
        let total = overlap.in_flight.values().sum();
        overlap.max_in_flight = overlap.max_in_flight.max(total);
        overlap.max_in_flight_on_one_path = overlap.max_in_flight_on_one_path.max(on_path);
        overlap.max_paths_in_flight = overlap
            .max_paths_in_flight
            .max(overlap.in_flight.len() as u32);
        InFlight {
            hooks: self,
            path: path.to_owned(),
        }
    }

    pub fn request_delay(&self) -> u64 {
        lock(&self.faults).delay_ms
    }

    /// Uses up the next pending fault, if any. `authorization` is the request's header.
    pub fn take_fault(&self, authorization: Option<&str>) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        if faults
            .require_auth
            .as_deref()
            .is_some_and(|expected| authorization != Some(expected))
        {
            return Some(Fault::Unauthorized);
        }
        if faults.drop_after_apply > 0 {
            faults.drop_after_apply -= 1;
            Some(Fault::DropAfterApply)
        } else if faults.fail503 > 0 {
            faults.fail503 -= 1;
            Some(Fault::Unavailable {
                retry_after: faults.retry_after,
            })
        } else if faults.drop_rate + faults.fail503_rate > 0.0 {
            let draw = next_unit(&mut faults.seed);
            if draw < faults.drop_rate {
                Some(Fault::DropAfterApply)
            } else if draw < faults.drop_rate + faults.fail503_rate {
                Some(Fault::Unavailable {
                    retry_after: faults.retry_after,
                })
            } else {
                None
            }
        } else {
            None
        }
    }

    pub fn clear(&self) {
        *lock(&self.journal) = Journal::default();
        *lock(&self.faults) = Faults::default();
        let mut overlap = lock(&self.overlap);
        overlap.max_in_flight = 0;
        overlap.max_in_flight_on_one_path = 0;
        overlap.max_paths_in_flight = 0;
    }
}
