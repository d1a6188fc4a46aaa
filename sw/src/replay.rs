//! One replay run's decisions, apart from each entry's own (`outcome`): how it sends, how much of
//! the queue's head it reads, how long it waits in place for an entry's time, when the network
//! counts as down, and what a batch endpoint's answer as a whole says. The shell reads, sends and
//! writes; it asks this what comes next.

use crate::config::Config;

/// The longest a replay waits in place for an entry's next attempt; a longer wait ends it, and a
/// later trigger (or the browser's next `sync`) starts again.
pub const MAX_WAIT_MS: f64 = 30_000.0;
/// Network failures in a row after which the network is taken to be down and the replay ends.
pub const NETWORK_FAILURES_TO_STOP: u32 = 3;

/// Entries read at once when they go one request at a time: one read for that many requests, and
/// few enough bodies held in memory.
pub const READ_AHEAD: u32 = 16;

/// How a run sends its entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    /// Many entries in one request to `batchUrl`.
    pub batching: bool,
    /// Requests out at once (1 while batching: a batch is one request).
    pub concurrency: u32,
    /// Entries read from the head of the queue in one transaction: for one batch, or read ahead
    /// for the waves that follow while each is delivered.
    pub window: u32,
}

impl Mode {
    /// `batch_refused`: the server answered the batch endpoint as one that has none.
    pub fn of(config: &Config, batch_refused: bool) -> Mode {
        let batching = config.batch_url.is_some() && !batch_refused;
        let concurrency = if batching { 1 } else { config.replay_concurrency.max(1) };
        let window = match (batching, concurrency) {
            (true, _) => config.batch_size,
            (false, 1) => READ_AHEAD,
            // Room to find entries on free lanes behind those that wait.
            (false, n) => n.saturating_mul(4).max(READ_AHEAD),
        };
        Mode { batching, concurrency, window }
    }
}

/// What to do when nothing can be sent before `until`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// Wait this many milliseconds in place, then read the head again.
    Sleep(f64),
    /// End the run: the entry waits until then, longer than a run stays.
    GiveUp(f64),
}

pub fn wait(until: f64, now: f64) -> Wait {
    if until - now > MAX_WAIT_MS {
        Wait::GiveUp(until)
    } else {
        Wait::Sleep((until - now).max(0.0))
    }
}

/// What a run has seen so far, over the requests it has out together.
#[derive(Debug, Default, PartialEq)]
pub struct Run {
    network_failures: u32,
    last_error: Option<String>,
}

impl Run {
    /// Notes that a request got an answer (`true`) or none; `true` back when that was the
    /// network failure that makes the network count as down, so the run ends.
    pub fn sent(&mut self, answered: bool) -> bool {
        self.network_failures = if answered { 0 } else { self.network_failures + 1 };
        !answered && self.network_failures >= NETWORK_FAILURES_TO_STOP
    }

    /// A problem to report as the run's last error, should it end well otherwise.
    pub fn problem(&mut self, text: String) {
        self.last_error = Some(text);
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

/// What the batch endpoint's answer, as a whole, says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchReply {
    /// One result per item attempted, in order.
    Results,
    /// This server takes no batches (or not these): one request at a time from now on.
    NotTaken,
    /// Busy or failing as a whole (503, 429…): nothing was applied; the first entry settles with
    /// this status as if it had gone alone.
    Failed,
}

pub fn batch_reply(status: u16) -> BatchReply {
    match status {
        200..=299 => BatchReply::Results,
        400 | 404 | 405 | 413 | 501 => BatchReply::NotTaken,
        _ => BatchReply::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_follows_the_options_and_a_refused_batch_endpoint() {
        let mut config = Config::default();
        assert_eq!(Mode::of(&config, false), Mode { batching: false, concurrency: 1, window: READ_AHEAD });
        config.replay_concurrency = 4;
        assert_eq!(Mode::of(&config, false), Mode { batching: false, concurrency: 4, window: 16 });
        config.batch_url = Some("/api/_batch".into());
        config.batch_size = 50;
        assert_eq!(Mode::of(&config, false), Mode { batching: true, concurrency: 1, window: 50 });
        assert_eq!(Mode::of(&config, true), Mode { batching: false, concurrency: 4, window: 16 }, "refused: one by one");
    }

    #[test]
    fn short_waits_are_slept_long_ones_end_the_run() {
        assert_eq!(wait(1_500.0, 1_000.0), Wait::Sleep(500.0));
        assert_eq!(wait(1_000.0 + MAX_WAIT_MS, 1_000.0), Wait::Sleep(MAX_WAIT_MS));
        assert_eq!(wait(1_001.0 + MAX_WAIT_MS, 1_000.0), Wait::GiveUp(1_001.0 + MAX_WAIT_MS));
        assert_eq!(wait(900.0, 1_000.0), Wait::Sleep(0.0), "a time already past: at once");
    }

    #[test]
    fn three_network_failures_in_a_row_end_the_run_an_answer_resets_the_count() {
        let mut run = Run::default();
        assert!(!run.sent(false));
        assert!(!run.sent(false));
        assert!(!run.sent(true), "an answer: the network is there");
        assert!(!run.sent(false));
        assert!(!run.sent(false));
        assert!(run.sent(false), "the third in a row");
        assert!(!run.sent(true));
    }

    #[test]
    fn the_last_problem_is_the_one_reported() {
        let mut run = Run::default();
        assert_eq!(run.last_error(), None);
        run.problem("HTTP 503 for POST /api/a".into());
        run.problem("HTTP 429 for POST /api/b".into());
        assert_eq!(run.last_error(), Some("HTTP 429 for POST /api/b"));
    }

    #[test]
    fn batch_answers_fall_into_three_kinds() {
        for s in [200, 207, 299] {
            assert_eq!(batch_reply(s), BatchReply::Results, "{s}");
        }
        for s in [400, 404, 405, 413, 501] {
            assert_eq!(batch_reply(s), BatchReply::NotTaken, "{s}");
        }
        for s in [401, 408, 429, 500, 502, 503] {
            assert_eq!(batch_reply(s), BatchReply::Failed, "{s}");
        }
    }
}
