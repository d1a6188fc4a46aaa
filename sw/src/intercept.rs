//! One intercepted mutation's decisions: whether the queue may hold it, whether a queue-first
//! entry's own request leaves now, and how many attempts a kept entry starts with.

/// Whether a body of `len` bytes may be queued (`maxBodyBytes`): the queue is no place for uploads.
pub fn fits(len: u64, max_body_bytes: u64) -> bool {
    len <= max_body_bytes
}

/// Queue-first: whether the committed entry's own request leaves now. Behind earlier entries, or
/// while a replay runs (it sends this one in its turn), or with no network at all, it waits.
pub fn send_now(first_in_line: bool, replaying: bool, online: bool) -> bool {
    first_in_line && !replaying && online
}

/// The attempts an entry kept after a failed send starts with. One that left may have reached the
/// server with only its answer lost: it counts as sent, so nothing merges into it. One that never
/// left (the browser was offline) was not tried.
pub fn attempts_when_kept(left: bool) -> u32 {
    u32::from(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_up_to_the_limit_fit() {
        assert!(fits(0, 0));
        assert!(fits(1024, 1024));
        assert!(!fits(1025, 1024));
    }

    #[test]
    fn a_queue_first_request_leaves_only_first_in_line_with_no_replay_and_a_network() {
        assert!(send_now(true, false, true));
        for (first, replaying, online) in [(false, false, true), (true, true, true), (true, false, false), (false, true, false)] {
            assert!(!send_now(first, replaying, online), "{first} {replaying} {online}");
        }
    }

    #[test]
    fn a_request_that_left_counts_as_sent() {
        assert_eq!(attempts_when_kept(true), 1);
        assert_eq!(attempts_when_kept(false), 0);
    }
}
