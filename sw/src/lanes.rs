//! Replay with bounded concurrency: which entries at the head of the queue may be sent at the same
//! time. An entry travels on two lanes, its record's (from coalescing) and its URL's: entries that
//! share either keep their queue order, others may overlap. With a concurrency of 1 everything is
//! one lane, so the replay is strictly in queue order, as a server that relates records needs.


/// The lanes an entry travels on: its record (when known) and its URL; one lane for all when only
/// one request may be out at a time.
pub fn lanes<'a>(record: Option<&'a str>, url: &'a str, concurrency: u32) -> [&'a str; 2] {
    if concurrency <= 1 {
        return ["", ""];
    }
    [record.unwrap_or(url), url]
}

/// What the planner needs to know of one waiting entry.
pub struct Candidate<'a> {
    pub lanes: [&'a str; 2],
    /// Its next attempt may not start before this time (ms since the epoch).
    pub ready_at: Option<f64>,
    /// Its own request is out already (queue-first): it is neither sent nor overtaken.
    pub busy: bool,
}

#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Send these (indexes into the window, in queue order) together.
    Send(Vec<usize>),
    /// Nothing can go before this time.
    WaitUntil(f64),
    /// Nothing can go at all: the window is empty, or every lane waits for a request that is out.
    Idle,
}

/// Up to `limit` entries of `window` (the head of the queue, in order) that may go now: those first
/// on both their lanes, when they are ready. Any earlier entry on a lane, sent or not, holds the
/// later ones on it back.
pub fn plan(window: &[Candidate<'_>], limit: usize, now: f64) -> Plan {
    let mut taken: Vec<&str> = Vec::new();
    let mut send = Vec::new();
    let mut earliest: Option<f64> = None;
    for (i, candidate) in window.iter().enumerate() {
        if send.len() >= limit.max(1) {
            break;
        }
        let first = candidate.lanes.iter().all(|lane| !taken.contains(lane));
        taken.extend(candidate.lanes);
        if !first {
            continue;
        }
        match candidate.ready_at {
            _ if candidate.busy => {}
            Some(at) if at > now => earliest = Some(earliest.map_or(at, |e: f64| e.min(at))),
            _ => send.push(i),
        }
    }
    match (send.is_empty(), earliest) {
        (false, _) => Plan::Send(send),
        (true, Some(at)) => Plan::WaitUntil(at),
        (true, None) => Plan::Idle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(lane: &str) -> Candidate<'_> {
        Candidate { lanes: [lane, lane], ready_at: None, busy: false }
    }

    fn waiting(lane: &str, at: f64) -> Candidate<'_> {
        Candidate { lanes: [lane, lane], ready_at: Some(at), busy: false }
    }

    #[test]
    fn different_lanes_go_together_up_to_the_limit() {
        let window = [ready("a"), ready("b"), ready("c"), ready("d")];
        assert_eq!(plan(&window, 3, 0.0), Plan::Send(vec![0, 1, 2]));
    }

    #[test]
    fn one_lane_goes_one_at_a_time_in_order() {
        let window = [ready("a"), ready("a"), ready("b"), ready("a")];
        assert_eq!(plan(&window, 4, 0.0), Plan::Send(vec![0, 2]));
    }

    #[test]
    fn a_waiting_entry_holds_back_its_lane_only() {
        let window = [waiting("a", 500.0), ready("a"), ready("b")];
        assert_eq!(plan(&window, 4, 100.0), Plan::Send(vec![2]));
        let window = [waiting("a", 500.0), ready("a")];
        assert_eq!(plan(&window, 4, 100.0), Plan::WaitUntil(500.0));
        assert_eq!(plan(&window, 4, 500.0), Plan::Send(vec![0]));
    }

    #[test]
    fn the_earliest_wait_is_the_one_to_sleep_for() {
        let window = [waiting("a", 900.0), waiting("b", 300.0)];
        assert_eq!(plan(&window, 4, 0.0), Plan::WaitUntil(300.0));
    }

    #[test]
    fn a_request_already_out_holds_back_its_lane() {
        let busy = |lane| Candidate { lanes: [lane, lane], ready_at: None, busy: true };
        let window = [busy("a"), ready("a"), ready("b")];
        assert_eq!(plan(&window, 4, 0.0), Plan::Send(vec![2]));
        let window = [busy(""), ready("")];
        assert_eq!(plan(&window, 4, 0.0), Plan::Idle);
    }

    #[test]
    fn an_empty_window_is_idle_and_a_zero_limit_still_sends_one() {
        assert_eq!(plan(&[], 4, 0.0), Plan::Idle);
        assert_eq!(plan(&[ready("a"), ready("b")], 0, 0.0), Plan::Send(vec![0]));
    }

    #[test]
    fn a_record_and_a_url_are_both_lanes() {
        // Two creations of different records on one URL: in order. Changes to two records at
        // their own URLs: together. A change after a creation of the same record: in order.
        let window = [
            Candidate { lanes: lanes(Some("tasks/1"), "/api/tasks", 4), ready_at: None, busy: false },
            Candidate { lanes: lanes(Some("tasks/2"), "/api/tasks", 4), ready_at: None, busy: false },
            Candidate { lanes: lanes(Some("tasks/1"), "/api/tasks/1", 4), ready_at: None, busy: false },
            Candidate { lanes: lanes(Some("tasks/3"), "/api/tasks/3", 4), ready_at: None, busy: false },
        ];
        assert_eq!(plan(&window, 4, 0.0), Plan::Send(vec![0, 3]));
    }

    #[test]
    fn with_concurrency_one_everything_is_one_lane() {
        assert_eq!(lanes(None, "/api/a", 1), ["", ""]);
        assert_eq!(lanes(Some("tasks/1"), "/api/a", 1), ["", ""]);
        assert_eq!(lanes(None, "/api/a", 4), ["/api/a", "/api/a"]);
        assert_eq!(lanes(Some("tasks/1"), "/api/a", 4), ["tasks/1", "/api/a"]);
    }

    /// Against a model: whatever the plans, no entry is ever sent before an earlier entry that
    /// shares a lane with it, and every entry is sent in the end.
    #[test]
    fn order_per_lane_holds_over_random_queues() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (records, urls) = (["r1", "r2", "r3", "r4"], ["u1", "u2", "u3"]);
        for _ in 0..500 {
            let len = 1 + next(20) as usize;
            let mut queue: Vec<(usize, [&str; 2])> = (0..len).map(|i| (i, [records[next(4) as usize], urls[next(3) as usize]])).collect();
            let mut sent: Vec<(usize, [&str; 2])> = Vec::new();
            let limit = 1 + next(4) as usize;
            for _ in 0..100 {
                let window: Vec<Candidate<'_>> = queue.iter().map(|(_, lanes)| Candidate { lanes: *lanes, ready_at: None, busy: false }).collect();
                let Plan::Send(picked) = plan(&window, limit, 0.0) else { break };
                assert!(picked.len() <= limit);
                let wave: Vec<(usize, [&str; 2])> = picked.iter().map(|&i| queue[i]).collect();
                for &i in picked.iter().rev() {
                    queue.remove(i);
                }
                sent.extend(wave);
            }
            assert!(queue.is_empty(), "everything is sent");
            for lane in records.iter().chain(&urls) {
                let order: Vec<usize> = sent.iter().filter(|(_, l)| l.contains(lane)).map(|(i, _)| *i).collect();
                assert!(order.windows(2).all(|w| w[0] < w[1]), "lane {lane} kept its order: {order:?}");
            }
        }
    }
}
