//! What a replay does with an entry after one attempt: the retry classes, back-off and dead letters.

use crate::entry::Entry;

/// The result of sending a queued request once.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The server answered with this status (and perhaps a `Retry-After` header).
    Answered { status: u16, retry_after: Option<String> },
    /// The request never got an answer (offline, refused, reset).
    NetworkError(String),
    /// No request could be made from the entry as stored (the browser refused its method, URL
    /// or a header): it never left, and trying again cannot help.
    Unsendable(String),
}

/// How a status is treated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    Delivered,
    /// Worth sending again later: the server or the path to it was busy or broken.
    Retryable,
    /// The credentials were refused: pause until the page hands over fresh ones.
    Hold,
    /// The request itself is wrong; sending it again cannot help.
    Permanent,
}

/// `retry_after` says whether the answer carried `Retry-After`: a 409 with it is the server
/// still processing the first request with this key (the Idempotency-Key draft), not a conflict.
pub fn classify(status: u16, retry_after: bool) -> Class {
    match status {
        200..=299 => Class::Delivered,
        401 | 403 => Class::Hold,
        408 | 425 | 429 => Class::Retryable,
        409 if retry_after => Class::Retryable,
        // 501 and 505 say the server will never handle this request.
        501 | 505 => Class::Permanent,
        500..=599 => Class::Retryable,
        _ => Class::Permanent,
    }
}

/// When to try again after failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base_ms: f64,
    pub cap_ms: f64,
}

impl Backoff {
    /// 1 s doubling per failure, at most 5 minutes: then "full jitter", a uniform pick below that.
    pub const DEFAULT: Backoff = Backoff { base_ms: 1_000.0, cap_ms: 300_000.0 };

    /// The wait before attempt `failures + 1`; `random` is uniform in [0, 1).
    pub fn delay(&self, failures: u32, random: f64) -> f64 {
        let ceiling = (self.base_ms * (1u64 << failures.min(30)) as f64).min(self.cap_ms);
        ceiling * random.clamp(0.0, 1.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Delivered: remove the entry.
    Remove,
    /// Send it again at this time (the replay may wait for it, or leave it for a later one).
    RetryAt(f64),
    /// Credentials refused: keep the entry and pause replay.
    Hold,
    /// Give up on it: move it to the dead letters with this reason.
    DeadLetter(String),
}

/// Decides what happens to `entry` after `attempt`, and notes the attempt on it.
/// `now` and `random` come from the shell, so the decision stays a plain function.
pub fn settle(entry: &mut Entry, attempt: &Attempt, max_attempts: u32, now: f64, random: f64) -> Next {
    // One that never left is no attempt.
    if !matches!(attempt, Attempt::Unsendable(_)) {
        entry.attempts += 1;
    }
    entry.next_attempt_at = None;
    let (status, retry_after) = match attempt {
        Attempt::Unsendable(reason) => {
            // Left at the head, it would stop the queue behind it for good.
            entry.last_error = Some(format!("could not be sent: {reason}"));
            return Next::DeadLetter(format!("it could not be sent as stored ({reason})"));
        }
        Attempt::NetworkError(reason) => {
            entry.last_error = Some(format!("network error: {reason}"));
            let failures = entry.attempts - entry.refusals;
            let at = now + Backoff::DEFAULT.delay(failures.saturating_sub(1), random);
            entry.next_attempt_at = Some(at);
            return Next::RetryAt(at);
        }
        Attempt::Answered { status, retry_after } => (*status, retry_after.as_deref()),
    };
    entry.last_status = Some(status);
    entry.last_error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
    match classify(status, retry_after.is_some()) {
        Class::Delivered => Next::Remove,
        Class::Hold => Next::Hold,
        Class::Permanent => Next::DeadLetter(format!("the server refused it (HTTP {status})")),
        Class::Retryable => {
            entry.refusals += 1;
            if entry.refusals >= max_attempts {
                return Next::DeadLetter(format!("HTTP {status} after {} retryable answers", entry.refusals));
            }
            let wait = retry_after
                .and_then(|h| retry_after_ms(h, now))
                .unwrap_or_else(|| Backoff::DEFAULT.delay(entry.refusals - 1, random));
            let at = now + wait;
            entry.next_attempt_at = Some(at);
            Next::RetryAt(at)
        }
    }
}

/// `Retry-After` as a wait in milliseconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn retry_after_ms(value: &str, now_ms: f64) -> Option<f64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds as f64 * 1_000.0);
    }
    http_date_ms(value).map(|at| (at - now_ms).max(0.0))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers must send, in ms since the epoch.
fn http_date_ms(value: &str) -> Option<f64> {
    let (_, rest) = value.split_once(',')?;
    let rest = rest.strip_prefix(' ')?;
    let mut parts = rest.split(' ');
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1, "Feb" => 2, "Mar" => 3, "Apr" => 4, "May" => 5, "Jun" => 6,
        "Jul" => 7, "Aug" => 8, "Sep" => 9, "Oct" => 10, "Nov" => 11, "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3_600 + m * 60 + s) * 1_000) as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry::from_json(r#"{"id":1,"method":"POST","url":"u","headers":[],"idempotencyKey":"k","queuedAt":0}"#).unwrap()
    }

    fn answered(status: u16) -> Attempt {
        Attempt::Answered { status, retry_after: None }
    }

    #[test]
    fn statuses_fall_into_the_documented_classes() {
        for s in [200, 201, 204, 299] {
            assert_eq!(classify(s, false), Class::Delivered, "{s}");
        }
        for s in [408, 425, 429, 500, 502, 503, 504, 507, 599] {
            assert_eq!(classify(s, false), Class::Retryable, "{s}");
        }
        for s in [401, 403] {
            assert_eq!(classify(s, false), Class::Hold, "{s}");
        }
        for s in [300, 304, 400, 404, 405, 409, 410, 413, 422, 451, 501, 505] {
            assert_eq!(classify(s, false), Class::Permanent, "{s}");
        }
        assert_eq!(classify(409, true), Class::Retryable, "the first request with the key is still running");
        assert_eq!(classify(422, true), Class::Permanent);
    }

    #[test]
    fn success_removes_and_clears_the_error() {
        let mut e = entry();
        e.last_error = Some("old".into());
        assert_eq!(settle(&mut e, &answered(201), 5, 0.0, 0.5), Next::Remove);
        assert_eq!((e.attempts, e.last_status, e.last_error), (1, Some(201), None));
    }

    #[test]
    fn permanent_refusals_become_dead_letters_at_once() {
        let mut e = entry();
        assert_eq!(settle(&mut e, &answered(422), 5, 0.0, 0.5), Next::DeadLetter("the server refused it (HTTP 422)".into()));
        assert_eq!(e.last_error.as_deref(), Some("HTTP 422"));
    }

    #[test]
    fn an_entry_no_request_can_be_made_of_becomes_a_dead_letter_untried() {
        let mut e = entry();
        let next = settle(&mut e, &Attempt::Unsendable("TypeError: invalid header".into()), 5, 0.0, 0.5);
        assert_eq!(next, Next::DeadLetter("it could not be sent as stored (TypeError: invalid header)".into()));
        assert_eq!((e.attempts, e.last_status, e.last_error.as_deref()), (0, None, Some("could not be sent: TypeError: invalid header")));
    }

    #[test]
    fn refused_credentials_hold_the_queue() {
        let mut e = entry();
        assert_eq!(settle(&mut e, &answered(401), 5, 0.0, 0.5), Next::Hold);
        assert_eq!(settle(&mut e, &answered(403), 5, 0.0, 0.5), Next::Hold);
        assert_eq!(e.refusals, 0, "a hold does not use up attempts");
    }

    #[test]
    fn retryable_answers_back_off_then_become_dead_letters_after_max_attempts() {
        let mut e = entry();
        let mut waits = Vec::new();
        for _ in 0..4 {
            match settle(&mut e, &answered(503), 5, 10_000.0, 0.999_999) {
                Next::RetryAt(at) => waits.push(at - 10_000.0),
                other => panic!("expected a retry, got {other:?}"),
            }
        }
        let rounded: Vec<i64> = waits.iter().map(|w| w.round() as i64).collect();
        assert_eq!(rounded, [1_000, 2_000, 4_000, 8_000], "exponential from 1 s");
        assert_eq!(e.next_attempt_at, Some(18_000.0 - 0.008));
        match settle(&mut e, &answered(503), 5, 10_000.0, 0.5) {
            Next::DeadLetter(reason) => assert!(reason.contains("after 5"), "{reason}"),
            other => panic!("expected a dead letter, got {other:?}"),
        }
    }

    #[test]
    fn network_failures_back_off_but_never_make_a_dead_letter() {
        let mut e = entry();
        for _ in 0..20 {
            let next = settle(&mut e, &Attempt::NetworkError("Failed to fetch".into()), 5, 0.0, 1.0);
            assert!(matches!(next, Next::RetryAt(_)));
        }
        assert_eq!((e.attempts, e.refusals), (20, 0));
        assert_eq!(e.next_attempt_at, Some(Backoff::DEFAULT.cap_ms), "capped at five minutes");
        assert_eq!(e.last_error.as_deref(), Some("network error: Failed to fetch"));
    }

    #[test]
    fn retry_after_wins_over_the_back_off() {
        let mut e = entry();
        let attempt = Attempt::Answered { status: 503, retry_after: Some("7".into()) };
        assert_eq!(settle(&mut e, &attempt, 5, 1_000.0, 0.0), Next::RetryAt(8_000.0));
        let attempt = Attempt::Answered { status: 429, retry_after: Some("soon".into()) };
        assert_eq!(settle(&mut e, &attempt, 5, 1_000.0, 0.0), Next::RetryAt(1_000.0), "unreadable: back-off");
    }

    #[test]
    fn full_jitter_stays_below_the_ceiling() {
        let b = Backoff { base_ms: 100.0, cap_ms: 1_000.0 };
        assert_eq!(b.delay(0, 0.0), 0.0);
        assert_eq!(b.delay(0, 0.5), 50.0);
        assert_eq!(b.delay(3, 0.5), 400.0);
        assert_eq!(b.delay(10, 0.5), 500.0);
        assert_eq!(b.delay(u32::MAX, 2.0), 1_000.0);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after_ms("120", 0.0), Some(120_000.0));
        assert_eq!(retry_after_ms(" 0 ", 0.0), Some(0.0));
        // 784111777 s after the epoch, as in RFC 9110's example.
        let at = 784_111_777_000.0;
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at - 5_000.0), Some(5_000.0));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000.0), Some(0.0), "a past date: now");
        assert_eq!(http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
        assert_eq!(http_date_ms("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600_000.0));
        for bad in ["-1", "1.5", "tomorrow", "Sun, 06 Nov 1994 08:49:37 PST", "Sun,06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", ""] {
            assert_eq!(retry_after_ms(bad, 0.0), None, "{bad}");
        }
    }
}
