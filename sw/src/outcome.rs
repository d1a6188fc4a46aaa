//! What a replay does with an entry after one attempt to deliver it.

/// The result of sending a queued request once.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The server answered with this status.
    Answered(u16),
    /// The request never got an answer (offline, refused, reset).
    NetworkError(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Delivered: remove the entry.
    Remove,
    /// The network is gone: keep the entry first in line and end this replay.
    Stop,
    /// The server refused it: note the attempt on the entry and go on with the next one.
    RecordAndContinue,
}

pub fn next_step(attempt: &Attempt) -> Next {
    match attempt {
        Attempt::Answered(status) if (200..300).contains(status) => Next::Remove,
        Attempt::Answered(_) => Next::RecordAndContinue,
        Attempt::NetworkError(_) => Next::Stop,
    }
}

/// The `lastError` text kept on an entry and shown in status.
pub fn describe(attempt: &Attempt) -> Option<String> {
    match attempt {
        Attempt::Answered(status) if (200..300).contains(status) => None,
        Attempt::Answered(status) => Some(format!("HTTP {status}")),
        Attempt::NetworkError(reason) => Some(format!("network error: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_removes_network_failure_stops_other_answers_are_recorded() {
        for s in [200, 201, 204, 299] {
            assert_eq!(next_step(&Attempt::Answered(s)), Next::Remove, "{s}");
            assert_eq!(describe(&Attempt::Answered(s)), None);
        }
        for s in [100, 304, 400, 404, 409, 500, 503] {
            assert_eq!(next_step(&Attempt::Answered(s)), Next::RecordAndContinue, "{s}");
        }
        let offline = Attempt::NetworkError("Failed to fetch".into());
        assert_eq!(next_step(&offline), Next::Stop);
        assert_eq!(describe(&offline).as_deref(), Some("network error: Failed to fetch"));
        assert_eq!(describe(&Attempt::Answered(500)).as_deref(), Some("HTTP 500"));
    }
}
