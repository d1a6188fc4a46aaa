//! One intercepted mutation's decisions: whether it is tried on the network or kept at once,
//! whether the queue may hold it, whether a queue-first entry's own request leaves now, and what
//! one that was not delivered becomes.

/// Network-first: what a mutation's own request does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Live {
    /// It goes out.
    Send,
    /// It goes out alone, to see whether the server answers again.
    Probe,
    /// It is kept at once, untried: the server did not answer the last request and a probe is out.
    Keep,
    /// It is kept at once: the browser has no network at all.
    Offline,
}

impl Live {
    /// For a mutation whose body the queue may hold (`fits`) or not: one it cannot hold (over
    /// `maxBodyBytes`) is tried even while a probe is out, since keeping it is no option and the
    /// server may be back.
    pub fn for_body(self, fits: bool) -> Live {
        if !fits && self == Live::Keep { Live::Send } else { self }
    }
}

/// What a network-first mutation that was not delivered (its request failed on the network, or
/// it was not tried) becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Undelivered {
    /// Queued, starting with these attempts.
    Keep { attempts: u32 },
    /// Answered 413: the queue cannot hold its body.
    Refuse,
}

/// `fits`: the queue may hold its body; `left`: its request went out. One that left may have
/// reached the server with only its answer lost: it counts as sent, so nothing merges into it.
/// One that never left (the browser was offline, or a probe was out) was not tried.
pub fn undelivered(fits: bool, left: bool) -> Undelivered {
    if fits { Undelivered::Keep { attempts: u32::from(left) } } else { Undelivered::Refuse }
}

/// Whether the server answers live mutations, as the last of them found. After a network failure
/// with the browser online (the server down, a captive portal), one mutation at a time goes out
/// as a probe and the others are kept at once, instead of each meeting the failure first; the
/// first answer ends it, and the replay that follows sends what was kept.
#[derive(Debug, Default)]
pub struct Reach {
    unreachable: bool,
    probe_out: bool,
}

impl Reach {
    pub fn decide(&mut self, online: bool) -> Live {
        match (online, self.unreachable, self.probe_out) {
            (false, ..) => Live::Offline,
            (true, true, true) => Live::Keep,
            (true, false, _) => Live::Send,
            (true, true, false) => {
                self.probe_out = true;
                Live::Probe
            }
        }
    }

    /// A request that went out came back: `answered` with any answer, else with a network
    /// failure; `None` when it was aborted, which says nothing of the server.
    pub fn came_back(&mut self, sent: Live, answered: Option<bool>) {
        if sent == Live::Probe {
            self.probe_out = false;
        }
        if let Some(answered) = answered {
            self.unreachable = !answered;
        }
    }
}

/// Whether a body of `len` bytes may be queued (`maxBodyBytes`): the queue is no place for uploads.
pub fn fits(len: u64, max_body_bytes: u64) -> bool {
    len <= max_body_bytes
}

/// Queue-first: whether the committed entry's own request leaves now. Behind earlier entries, or
/// while a replay runs (it sends this one in its turn), or with no network at all, it waits.
pub fn send_now(first_in_line: bool, replaying: bool, online: bool) -> bool {
    first_in_line && !replaying && online
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_network_failure_one_probe_goes_and_the_rest_are_kept_until_an_answer() {
        let mut reach = Reach::default();
        assert_eq!(reach.decide(false), Live::Offline, "no network: nothing to try");
        let first = reach.decide(true);
        let second = reach.decide(true);
        assert_eq!((first, second), (Live::Send, Live::Send));
        reach.came_back(first, Some(false));
        let probe = reach.decide(true);
        assert_eq!(probe, Live::Probe);
        assert_eq!(reach.decide(true), Live::Keep, "one probe at a time");
        reach.came_back(second, Some(false));
        assert_eq!(reach.decide(true), Live::Keep, "a late failure of a request sent before adds no probe");
        reach.came_back(probe, Some(false));
        let probe = reach.decide(true);
        assert_eq!(probe, Live::Probe, "a failed probe makes way for the next");
        reach.came_back(probe, Some(true));
        assert_eq!(reach.decide(true), Live::Send, "an answer ends it");
    }

    #[test]
    fn an_aborted_probe_makes_way_and_says_nothing_of_the_server() {
        let mut reach = Reach::default();
        reach.came_back(Live::Send, Some(false));
        let probe = reach.decide(true);
        reach.came_back(probe, None);
        assert_eq!(reach.decide(true), Live::Probe);
    }

    #[test]
    fn a_mutation_the_queue_cannot_hold_is_tried_while_a_probe_is_out() {
        let mut reach = Reach::default();
        reach.came_back(Live::Send, Some(false));
        let probe = reach.decide(true);
        let big = reach.decide(true).for_body(false);
        assert_eq!((probe, big), (Live::Probe, Live::Send));
        assert_eq!(Live::Offline.for_body(false), Live::Offline, "with no network there is nothing to try");
        assert_eq!(reach.decide(true).for_body(true), Live::Keep, "a body that fits waits for the probe");
        reach.came_back(big, Some(true));
        assert_eq!(reach.decide(true), Live::Send, "its answer ends the outage too");
    }

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
    fn an_undelivered_mutation_is_kept_counting_a_request_that_left_or_refused_if_too_big() {
        assert_eq!(undelivered(true, true), Undelivered::Keep { attempts: 1 });
        assert_eq!(undelivered(true, false), Undelivered::Keep { attempts: 0 });
        assert_eq!(undelivered(false, true), Undelivered::Refuse);
        assert_eq!(undelivered(false, false), Undelivered::Refuse);
    }
}
