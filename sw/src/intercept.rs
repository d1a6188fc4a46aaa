//! One intercepted mutation's path, step by step (`Mutation`): queue-first or network-first,
//! tried or kept at once, and what one that was not delivered becomes; whether the server answers
//! live mutations (`Reach`); whether a queue-first entry's own request leaves now.

use crate::error::Error;

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

/// The first step of one intercepted mutation, which the shell carries out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum First {
    /// Queue-first: commit it, starting with these attempts; its own request then does as [`Own`]
    /// says.
    QueueFirst { attempts: u32 },
    /// Send its request, then say what came of it (`Mutation::returned`).
    Send,
    /// Not tried.
    Undelivered(Undelivered),
}

/// What a mutation that was not delivered becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Undelivered {
    /// Queue it, starting with these attempts, and answer 202.
    Keep { attempts: u32 },
    /// Answer 413: the queue cannot hold its body.
    Refuse,
}

/// What came of a mutation's own request: the server's answer `A`, or the network's failure `E`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Returned<A, E> {
    /// Any answer, even one the page no longer waited for: the server is reachable.
    Answered(A),
    Failed(E),
    /// The page aborted it before an answer, which says nothing of the server.
    Aborted,
}

/// The step after a mutation's request came back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Then<A, E> {
    /// Give the page the server's answer. The server is reachable, so what waits is replayed.
    Deliver(A),
    /// It failed, with this failure.
    Undelivered(Undelivered, E),
    /// Give the page its abort: it gave the request up.
    Abort,
}

/// One intercepted mutation on its way: network-first as `live` says (`None`: queue-first), and
/// whether the queue may hold its body (`maxBodyBytes`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mutation {
    live: Option<Live>,
    fits: bool,
}

impl Mutation {
    /// Queue-first commits what the queue may hold. The rest goes network-first, where one the
    /// queue cannot hold is tried even while a probe is out: keeping it is no option, and the
    /// server may be back.
    pub fn start(reach: &mut Reach, queue_first: bool, fits: bool, online: bool) -> Mutation {
        let live = (!(queue_first && fits)).then(|| match reach.decide(online) {
            Live::Keep if !fits => Live::Send,
            live => live,
        });
        Mutation { live, fits }
    }

    pub fn live(&self) -> Option<Live> {
        self.live
    }

    pub fn first(&self) -> First {
        match self.live {
            // Counted as sent from the start: it may leave at once, and then nothing may merge into it.
            None => First::QueueFirst { attempts: 1 },
            Some(Live::Send | Live::Probe) => First::Send,
            Some(Live::Keep | Live::Offline) => First::Undelivered(self.undelivered(false)),
        }
    }

    /// Why one kept without being tried was kept.
    pub fn untried(&self) -> Error {
        let why = match self.live {
            Some(Live::Offline) => "offline",
            _ => "not tried, the server did not answer the last request",
        };
        Error::Network(why.into())
    }

    /// The step after its request came back; `reach` hears of it.
    pub fn returned<A, E>(&self, reach: &mut Reach, returned: Returned<A, E>) -> Then<A, E> {
        if let Some(live) = self.live {
            let answered = match returned {
                Returned::Answered(_) => Some(true),
                Returned::Failed(_) => Some(false),
                Returned::Aborted => None,
            };
            reach.came_back(live, answered);
        }
        match returned {
            Returned::Answered(answer) => Then::Deliver(answer),
            Returned::Failed(failure) => Then::Undelivered(self.undelivered(true), failure),
            Returned::Aborted => Then::Abort,
        }
    }

    /// Not delivered; `left`: its request went out. One that left may have reached the server
    /// with only its answer lost, so it counts as sent and nothing merges into it.
    fn undelivered(&self, left: bool) -> Undelivered {
        if self.fits { Undelivered::Keep { attempts: u32::from(left) } } else { Undelivered::Refuse }
    }
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

/// The Idempotency-Key a mutation is sent and kept under, and whether it is new (then the shell
/// sets it on the request): the page's own where it set one, so that the page's own retries are
/// one request to the server; a blank one is no key.
pub fn idempotency_key(page: Option<String>, new: impl FnOnce() -> String) -> (String, bool) {
    match page {
        Some(key) if !key.trim().is_empty() => (key, false),
        _ => (new(), true),
    }
}

/// Whether a body of `len` bytes may be queued (`maxBodyBytes`): the queue is no place for uploads.
pub fn fits(len: u64, max_body_bytes: u64) -> bool {
    len <= max_body_bytes
}

/// Queue-first, once its entry is committed: what its own request does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Own {
    /// It leaves now.
    Send,
    /// It waits, and goes in its turn: earlier entries wait, a replay runs, or there is no network.
    Wait,
    /// Read the queue's head first, to know whether earlier entries wait.
    ReadHead,
}

/// Queue-first, once its own request came back: what becomes of its committed entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owned<A, E> {
    /// Remove the entry, and give the page the server's answer.
    Delivered(A),
    /// The entry stays and goes in its turn; note this failure on it (`None`: the page aborted,
    /// which says nothing worth noting), and answer 202.
    Stays(Option<E>),
}

/// Any answer delivers a queue-first entry, as it does a network-first mutation; the page's abort
/// does not undo a commit.
pub fn owned<A, E>(returned: Returned<A, E>) -> Owned<A, E> {
    match returned {
        Returned::Answered(answer) => Owned::Delivered(answer),
        Returned::Failed(failure) => Owned::Stays(Some(failure)),
        Returned::Aborted => Owned::Stays(None),
    }
}

/// `heads`: whether the entry heads the queue, `None` while that is unknown. While a replay runs
/// or with no network it waits whatever, so the head is read only when it decides.
pub fn own(heads: Option<bool>, replaying: bool, online: bool) -> Own {
    match heads {
        _ if replaying || !online => Own::Wait,
        None => Own::ReadHead,
        Some(true) => Own::Send,
        Some(false) => Own::Wait,
    }
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
    fn a_mutation_the_queue_cannot_hold_is_tried_while_a_probe_is_out_and_refused_if_undelivered() {
        let mut reach = Reach::default();
        reach.came_back(Live::Send, Some(false));
        let probe = Mutation::start(&mut reach, false, true, true);
        assert_eq!((probe.live(), probe.first()), (Some(Live::Probe), First::Send));
        let big = Mutation::start(&mut reach, false, false, true);
        assert_eq!((big.live(), big.first()), (Some(Live::Send), First::Send));
        let waits = Mutation::start(&mut reach, false, true, true);
        assert_eq!(waits.first(), First::Undelivered(Undelivered::Keep { attempts: 0 }), "a body that fits waits for the probe, untried");
        assert_eq!(waits.untried().to_string(), "network error: not tried, the server did not answer the last request");
        assert_eq!(big.returned(&mut reach, Returned::<(), _>::Failed("cut")), Then::Undelivered(Undelivered::Refuse, "cut"));
        let offline = Mutation::start(&mut reach, false, false, false);
        assert_eq!(offline.first(), First::Undelivered(Undelivered::Refuse), "no network: nothing to try");
        assert_eq!(offline.untried().to_string(), "network error: offline");
        assert_eq!(Mutation::start(&mut reach, true, false, false).first(), First::Undelivered(Undelivered::Refuse), "queue-first cannot hold it either");
        assert_eq!(probe.returned(&mut reach, Returned::<_, ()>::Answered(200)), Then::Deliver(200));
        assert_eq!(Mutation::start(&mut reach, false, true, true).first(), First::Send, "its answer ends the outage");
    }

    #[test]
    fn a_failed_request_is_kept_as_sent_and_an_abort_goes_back_to_the_page_saying_nothing_of_the_server() {
        let mut reach = Reach::default();
        let sent = Mutation::start(&mut reach, false, true, true);
        assert_eq!(sent.returned(&mut reach, Returned::<(), _>::Failed("cut")), Then::Undelivered(Undelivered::Keep { attempts: 1 }, "cut"));
        let probe = Mutation::start(&mut reach, false, true, true);
        assert_eq!(probe.returned(&mut reach, Returned::<(), ()>::Aborted), Then::Abort);
        assert_eq!(Mutation::start(&mut reach, false, true, true).live(), Some(Live::Probe), "still unreachable");
    }

    #[test]
    fn queue_first_commits_what_fits_without_a_probe_and_sends_the_rest_network_first() {
        let mut reach = Reach::default();
        reach.came_back(Live::Send, Some(false));
        let first = Mutation::start(&mut reach, true, true, true);
        assert_eq!((first.live(), first.first()), (None, First::QueueFirst { attempts: 1 }));
        assert_eq!(Mutation::start(&mut reach, true, true, false).first(), First::QueueFirst { attempts: 1 }, "offline too");
        let big = Mutation::start(&mut reach, true, false, true);
        assert_eq!(big.live(), Some(Live::Probe), "queue-first took no probe");
        assert_eq!(big.returned(&mut reach, Returned::<_, ()>::Answered(201)), Then::Deliver(201));
    }

    #[test]
    fn a_queue_first_entry_leaves_the_queue_on_any_answer_and_stays_on_a_failure_or_an_abort() {
        assert_eq!(owned(Returned::<_, ()>::Answered(503)), Owned::Delivered(503));
        assert_eq!(owned(Returned::<(), _>::Failed("cut")), Owned::Stays(Some("cut")));
        assert_eq!(owned(Returned::<(), ()>::Aborted), Owned::Stays(None));
    }

    #[test]
    fn the_pages_own_key_is_kept_and_a_missing_or_blank_one_is_made() {
        let new = || "made".to_owned();
        assert_eq!(idempotency_key(Some("page-1".into()), new), ("page-1".into(), false));
        assert_eq!(idempotency_key(None, new), ("made".into(), true));
        assert_eq!(idempotency_key(Some(" ".into()), new), ("made".into(), true));
    }

    #[test]
    fn bodies_up_to_the_limit_fit() {
        assert!(fits(0, 0));
        assert!(fits(1024, 1024));
        assert!(!fits(1025, 1024));
    }

    #[test]
    fn a_queue_first_request_leaves_only_first_in_line_with_no_replay_and_a_network() {
        assert_eq!(own(Some(true), false, true), Own::Send);
        assert_eq!(own(None, false, true), Own::ReadHead);
        for (heads, replaying, online) in [(Some(false), false, true), (Some(true), true, true), (None, true, true), (None, false, false), (Some(true), false, false)] {
            assert_eq!(own(heads, replaying, online), Own::Wait, "{heads:?} {replaying} {online}");
        }
    }
}
