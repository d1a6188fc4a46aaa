//! What the worker knows between events, and the decisions that need nothing else: whether a
//! trigger starts a replay or joins the one under way, what the pages are told and when, when to
//! ask for a Background Sync, which waiting entry a new operation on a record may merge into.
//! The shell keeps one, and asks it before it acts.

use crate::coalesce::{self, Fold, Pushed};
use crate::entry::Entry;
use crate::error::Error;
use crate::intercept::{self, Mutation, Own, Owned, Reach, Returned, Then};
use crate::protocol::{Event, Status};

/// What a replay trigger (a `sync` event, a page's ask, an online answer) does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// No replay runs: start one.
    Start,
    /// One runs: it runs once more before it settles, and the trigger waits for it.
    Join,
    /// As `Join`, and the network may be back: a run waiting out a back-off in place wakes and
    /// sends what only met network failures at once.
    Wake,
}

#[derive(Debug, Default)]
pub struct State {
    /// A replay is under way (waiting for the lock, or draining), and whether a trigger came
    /// meanwhile.
    replay: Option<Rerun>,
    /// A trigger of the replay under way said the network may be back (see `drain`): its next
    /// run tries at once what only met network failures.
    network_back: bool,
    /// A drain is under way: the queue's head may be out.
    syncing: bool,
    last_sync_at: Option<f64>,
    last_error: Option<String>,
    /// The server refused the credentials: no replay until the page sets fresh headers.
    held: bool,
    /// Headers the page handed over for replays (e.g. `Authorization`); never written to storage.
    replay_headers: Vec<(String, String)>,
    /// (record key, its latest queued entry) for the entries this worker queued since anyone
    /// else last touched the queue: the only ones it knows were never sent, and were not followed
    /// by another worker's entry on the same record. An entry a replay read may be out, or may
    /// have been sent by a run whose worker died before it could note the attempt, so it is never
    /// merged into. A plain list: as long as the records waiting.
    records: Vec<(String, u64)>,
    /// The queue's mark as this worker's last write left it. Every addition to the queue (a push,
    /// a merge) and every read of it moves the mark on by one: while the next write finds it one
    /// on, nobody else has touched the queue since.
    mark: Option<Mark>,
    /// Sends saved by coalescing since this worker started.
    coalesced: u32,
    /// Whether the server answered the last live mutation.
    reach: Reach,
    /// Queue-first entries whose own request is out: a replay neither sends nor overtakes them.
    in_flight: Vec<u64>,
    /// A Background Sync is registered and has not fired: no need to ask again.
    sync_requested: bool,
    /// The server refused a batch: one request at a time for the rest of this worker's life.
    batch_refused: bool,
    /// How many additions the queue's connection had made when it last found the queue empty:
    /// until it makes another, an online answer need not look at the queue.
    empty_after: Option<u64>,
    /// Events told while a round of news is under way: they go in the next round.
    outbox: Vec<Event>,
    /// A round of news is under way; a status is owed after the events told since the last one.
    telling: bool,
    status_owed: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Rerun(bool);

/// The shortest time between two rounds of news in a burst.
pub const NEWS_INTERVAL_MS: f64 = 50.0;

/// The queue's mark: a count that every addition to the queue and every read of it moves on by one.
pub type Mark = u64;

impl State {
    pub fn status(&self, pending: u32, dead_letters: u32) -> Status {
        Status {
            pending,
            syncing: self.syncing,
            last_sync_at: self.last_sync_at,
            last_error: self.last_error.clone(),
            dead_letters,
            auth_required: self.held,
            coalesced: self.coalesced,
        }
    }

    /// `network_back`: the trigger says the network may be back (a `sync` event, a page's
    /// `online` or ask, a mutation that got through).
    pub fn trigger(&mut self, network_back: bool) -> Trigger {
        self.network_back |= network_back;
        match self.replay.as_mut() {
            Some(rerun) => {
                rerun.0 = true;
                if network_back { Trigger::Wake } else { Trigger::Join }
            }
            None => {
                self.replay = Some(Rerun(false));
                Trigger::Start
            }
        }
    }

    /// A run of the replay starts: whether a trigger since the last said the network may be back.
    pub fn next_run(&mut self) -> bool {
        std::mem::take(&mut self.network_back)
    }

    /// After one run of a replay: `true` to run once more, else the replay is over. A trigger
    /// that came meanwhile makes it run again if the run did not fail, or if that trigger said the
    /// network may be back: the run may have failed just before it was.
    pub fn run_again(&mut self, failed: bool) -> bool {
        match self.replay {
            Some(Rerun(true)) if !failed || self.network_back => {
                self.replay = Some(Rerun(false));
                true
            }
            _ => {
                self.replay = None;
                false
            }
        }
    }

    /// A run may drain the queue unless the queue is held; then it is syncing.
    pub fn drain_starts(&mut self) -> bool {
        if self.held {
            return false;
        }
        self.syncing = true;
        true
    }

    pub fn drain_ends(&mut self, result: &Result<Option<String>, Error>, now: f64) {
        self.syncing = false;
        match result {
            Ok(last_error) => {
                self.last_sync_at = Some(now);
                self.last_error = last_error.clone();
            }
            Err(e) => self.last_error = Some(e.to_string()),
        }
    }

    pub fn syncing(&self) -> bool {
        self.syncing
    }

    /// The credentials were refused.
    pub fn hold(&mut self) {
        self.held = true;
    }

    /// Fresh headers from the page: they go with every later replay, and the hold is lifted.
    pub fn set_replay_headers(&mut self, headers: Vec<(String, String)>) {
        self.replay_headers = headers;
        self.held = false;
    }

    pub fn replay_headers(&self) -> &[(String, String)] {
        &self.replay_headers
    }

    pub fn refuse_batches(&mut self) {
        self.batch_refused = true;
    }

    pub fn batch_refused(&self) -> bool {
        self.batch_refused
    }

    /// Whether entries may be waiting, with `additions` made on the queue's connection so far:
    /// not while none was made since the queue was last found empty, so a stream of online
    /// mutations costs no storage work.
    pub fn may_hold_entries(&self, additions: u64) -> bool {
        self.empty_after != Some(additions)
    }

    /// The queue held `waiting` entries, counted when its connection had made `additions`:
    /// whether to replay them.
    pub fn counted(&mut self, waiting: u32, additions: u64) -> bool {
        if waiting == 0 {
            self.empty_after = Some(additions);
        }
        waiting > 0
    }

    /// The queue was opened anew: its connection counts additions from none, and nothing is
    /// known of what it holds.
    pub fn queue_opened(&mut self) {
        self.empty_after = None;
    }

    /// Events for every page, in order; `true` when no round of news is under way, so the caller
    /// starts one. A status always follows them.
    pub fn tell(&mut self, events: Vec<Event>) -> bool {
        self.outbox.extend(events);
        self.status_owed = true;
        !std::mem::replace(&mut self.telling, true)
    }

    /// The next round of news (the events told since the last one; a status follows), or `None`:
    /// nothing is owed, and the rounds are over.
    pub fn next_round(&mut self) -> Option<Vec<Event>> {
        if std::mem::take(&mut self.status_owed) {
            return Some(std::mem::take(&mut self.outbox));
        }
        self.telling = false;
        None
    }

    /// A round of news went out, `took` ms after it began: how long the next waits, if one is
    /// owed. In a burst (16 mutations queued at once, a replay of a thousand) rounds come at most
    /// every [`NEWS_INTERVAL_MS`], so the pages get every event without a status read and a
    /// client listing per event.
    pub fn round_sent(&self, took: f64) -> Option<f64> {
        let rest = NEWS_INTERVAL_MS - took;
        (self.status_owed && rest > 0.0).then_some(rest)
    }

    pub fn telling(&self) -> bool {
        self.telling
    }

    /// Whether to ask for a Background Sync, with `pending` entries waiting: once per
    /// registration (the first mutation of a burst asks, the rest need not; marked before the
    /// browser answers), and only if something waits (a cancel may have left nothing).
    pub fn ask_for_sync(&mut self, pending: u32) -> bool {
        pending > 0 && !std::mem::replace(&mut self.sync_requested, true)
    }

    /// The browser refused the registration: the next entry asks anew.
    pub fn sync_used(&mut self) {
        self.sync_requested = false;
    }

    /// A `sync` event with `tag`: whether it is ours (`ours`, option `syncTag`) and replays. Ours
    /// uses the registration up, so the next entry queued asks for a new one.
    pub fn sync_event(&mut self, tag: &str, ours: &str) -> bool {
        let replays = tag == ours;
        if replays {
            self.sync_used();
        }
        replays
    }

    /// An intercepted mutation's path (see [`Mutation`]; network-first asks [`Reach`]).
    pub fn intercept(&mut self, queue_first: bool, fits: bool, online: bool) -> Mutation {
        Mutation::start(&mut self.reach, queue_first, fits, online)
    }

    pub fn returned<A, E>(&mut self, mutation: &Mutation, returned: Returned<A, E>) -> Then<A, E> {
        mutation.returned(&mut self.reach, returned)
    }

    /// Queue-first: what the committed entry `id`'s own request does, `pending` entries queued
    /// with it (alone, it heads the queue).
    pub fn committed_first(&mut self, id: u64, pending: u32, online: bool) -> Own {
        self.own(id, (pending == 1).then_some(true), online)
    }

    /// Queue-first, after [`Own::ReadHead`]: `head` is the queue's, `None` when it could not be
    /// read (the entry then waits for a replay, which sends it in its turn).
    pub fn head_read(&mut self, id: u64, head: Option<u64>, online: bool) -> Own {
        self.own(id, Some(head == Some(id)), online)
    }

    fn own(&mut self, id: u64, heads: Option<bool>, online: bool) -> Own {
        let own = intercept::own(heads, self.syncing, online);
        if own == Own::Send {
            self.in_flight.push(id);
        }
        own
    }

    /// Queue-first: the committed entry `id`'s own request came back (see [`intercept::owned`]).
    pub fn own_returned<A, E>(&mut self, id: u64, returned: Returned<A, E>) -> Owned<A, E> {
        self.in_flight.retain(|&out| out != id);
        intercept::owned(returned)
    }

    pub fn in_flight(&self) -> &[u64] {
        &self.in_flight
    }

    /// The waiting entry a new operation on `record` may merge into: its latest, when this worker
    /// queued it (as far as it knows: `fold` makes sure).
    pub fn merge_target(&self, record: &str) -> Option<u64> {
        self.records.iter().rev().find(|(key, _)| key == record).map(|(_, id)| *id)
    }

    /// Offers `new` to `waiting` (see `coalesce::fold`), given the mark the merge's transaction
    /// `left`: unless that write came right after this worker's last, someone else (a replay, of
    /// this worker or another; another worker's write) touched the queue since, and the new
    /// operation goes on its own.
    pub fn fold(&self, left: Mark, waiting: Option<(&Entry, Vec<u8>)>, new: &Entry, new_body: &[u8]) -> Fold {
        coalesce::fold(waiting.filter(|_| self.follows(left)), new, new_body)
    }

    /// Whether the write that left mark `left` came right after this worker's last write.
    fn follows(&self, left: Mark) -> bool {
        self.mark.is_some_and(|last| last + 1 == left)
    }

    /// A write of this worker's to the queue left mark `left` (shared by the operations of one
    /// group commit), whatever it held.
    pub fn wrote(&mut self, left: Mark) {
        if self.mark != Some(left) {
            if !self.follows(left) {
                // Someone else touched the queue since: nothing queued before is known unsent.
                self.records.clear();
            }
            self.mark = Some(left);
        }
    }

    /// What became of an operation on `record`, with the mark its transaction left.
    pub fn pushed(&mut self, record: &str, pushed: Pushed, left: Mark) {
        self.wrote(left);
        match pushed {
            Pushed::Merged(_) => self.coalesced += 1,
            Pushed::Cancelled(_) => self.coalesced += 2,
            Pushed::Added(_) => {}
        }
        let records = &mut self.records;
        // One pair per record, as in a map.
        records.retain(|(key, _)| key != record);
        match pushed {
            Pushed::Added(id) | Pushed::Merged(id) => records.push((record.to_owned(), id)),
            Pushed::Cancelled(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_during_a_replay_joins_it_and_makes_it_run_once_more() {
        let mut s = State::default();
        assert_eq!(s.trigger(false), Trigger::Start);
        assert!(!s.next_run());
        assert_eq!(s.trigger(true), Trigger::Wake, "the network may be back: a waiting run wakes");
        assert_eq!(s.trigger(false), Trigger::Join);
        assert!(s.run_again(false), "the joins ask for one more run");
        assert!(s.next_run(), "one of them said the network may be back");
        assert!(!s.run_again(false), "and only one");
        assert_eq!(s.trigger(false), Trigger::Start, "the replay is over");
        assert!(!s.next_run());
        s.trigger(false);
        s.trigger(false);
        assert!(!s.run_again(true), "a failed run is not run again for a trigger that says nothing of the network");
        assert_eq!(s.trigger(true), Trigger::Start);
        assert!(s.next_run());
        assert_eq!(s.trigger(true), Trigger::Wake, "the network may be back, while the run fails");
        assert!(s.run_again(true), "so it runs once more");
        assert!(s.next_run());
        assert!(!s.run_again(true), "and then not again, with no new trigger");
    }

    #[test]
    fn a_held_queue_is_not_drained_until_fresh_headers_come() {
        let mut s = State::default();
        s.hold();
        assert!(!s.drain_starts());
        assert!(s.status(1, 0).auth_required);
        s.set_replay_headers(vec![("Authorization".into(), "Bearer new".into())]);
        assert!(s.drain_starts());
        assert!(s.syncing() && s.status(1, 0).syncing);
        assert_eq!(s.replay_headers()[0].1, "Bearer new");
    }

    #[test]
    fn a_drain_leaves_its_time_and_problem_in_the_status() {
        let mut s = State::default();
        s.drain_starts();
        s.drain_ends(&Ok(Some("HTTP 503 for POST u".into())), 5.0);
        let st = s.status(2, 1);
        assert_eq!((st.syncing, st.last_sync_at, st.last_error.as_deref(), st.pending, st.dead_letters), (false, Some(5.0), Some("HTTP 503 for POST u"), 2, 1));
        s.drain_starts();
        s.drain_ends(&Err(Error::Network("offline".into())), 9.0);
        let st = s.status(2, 1);
        assert_eq!((st.last_sync_at, st.last_error.as_deref()), (Some(5.0), Some("network error: offline")), "a failed drain keeps the last good time");
    }

    #[test]
    fn the_queue_is_looked_at_only_once_something_may_have_been_added_since_it_was_found_empty() {
        let mut s = State::default();
        assert!(s.may_hold_entries(0), "nothing is known at first");
        assert!(s.counted(2, 0), "entries wait: replay them");
        assert!(s.may_hold_entries(0));
        assert!(!s.counted(0, 3));
        assert!(!s.may_hold_entries(3), "found empty, and nothing added since");
        assert!(s.may_hold_entries(4), "an addition since");
        s.queue_opened();
        assert!(s.may_hold_entries(3), "a new connection counts anew");
    }

    #[test]
    fn news_goes_in_rounds_each_closed_by_a_status() {
        let mut s = State::default();
        let queued = || Event::Queued { id: 1, method: "POST".into(), url: "u".into(), pending: 1 };
        assert!(s.tell(vec![queued()]), "the first tells start a round");
        assert!(!s.tell(vec![queued()]), "later ones join it");
        assert_eq!(s.next_round().map(|e| e.len()), Some(2));
        assert_eq!(s.round_sent(10.0), None, "nothing owed: no wait");
        assert!(!s.tell(Vec::new()), "a status alone, while the round is under way");
        assert_eq!(s.round_sent(10.0), Some(NEWS_INTERVAL_MS - 10.0), "the next round keeps its distance");
        assert_eq!(s.round_sent(NEWS_INTERVAL_MS + 1.0), None, "a slow round needs none");
        assert_eq!(s.next_round(), Some(Vec::new()));
        assert_eq!(s.next_round(), None);
        assert!(!s.telling());
        assert!(s.tell(Vec::new()), "a new round after the last ended");
    }

    #[test]
    fn background_sync_is_asked_once_per_registration() {
        let mut s = State::default();
        assert!(!s.ask_for_sync(0), "nothing waits");
        assert!(s.ask_for_sync(1));
        assert!(!s.ask_for_sync(2), "the rest of the burst need not ask");
        s.sync_used();
        assert!(s.ask_for_sync(1));
        assert!(!s.sync_event("someone-else", "offline-sync"), "another library's sync is not ours");
        assert!(!s.ask_for_sync(1), "and leaves our registration standing");
        assert!(s.sync_event("offline-sync", "offline-sync"));
        assert!(s.ask_for_sync(1), "our sync used the registration up");
    }

    #[test]
    fn a_queue_first_request_out_is_known_until_it_is_answered() {
        let mut s = State::default();
        assert_eq!(s.committed_first(3, 2, true), Own::ReadHead);
        assert_eq!(s.head_read(3, Some(2), true), Own::Wait, "behind earlier entries it waits");
        assert_eq!(s.committed_first(4, 1, true), Own::Send, "alone, it heads the queue");
        assert_eq!(s.head_read(6, Some(6), true), Own::Send);
        assert_eq!(s.in_flight(), [4, 6]);
        assert_eq!(s.own_returned(4, Returned::<_, ()>::Answered(201)), Owned::Delivered(201));
        assert_eq!(s.in_flight(), [6]);
        assert_eq!(s.own_returned(6, Returned::<(), _>::Failed("cut")), Owned::Stays(Some("cut")));
        assert!(s.in_flight().is_empty());
        assert_eq!(s.head_read(7, None, true), Own::Wait, "a head that could not be read");
        s.drain_starts();
        assert_eq!(s.committed_first(5, 3, true), Own::Wait, "a replay under way sends it in its turn, so the head is not read");
    }

    #[test]
    fn merges_go_into_the_latest_entry_this_worker_queued_while_nobody_else_touched_the_queue() {
        let mut s = State::default();
        assert_eq!(s.merge_target("tasks/1"), None, "what a worker finds queued when it starts may have been sent");
        s.pushed("tasks/1", Pushed::Added(3), 1);
        s.pushed("tasks/2", Pushed::Added(4), 1);
        assert_eq!(s.merge_target("tasks/1"), Some(3), "both in one group commit");
        s.pushed("tasks/1", Pushed::Added(7), 2);
        assert_eq!(s.merge_target("tasks/1"), Some(7), "the latest");
        s.pushed("tasks/1", Pushed::Merged(7), 3);
        s.pushed("tasks/2", Pushed::Cancelled(4), 4);
        assert_eq!(s.merge_target("tasks/2"), None);
        assert_eq!(s.merge_target("tasks/1"), Some(7));
        assert_eq!(s.status(0, 0).coalesced, 3, "a merge saves one send, a cancel two");
        s.pushed("tasks/3", Pushed::Added(8), 6);
        assert_eq!(s.merge_target("tasks/1"), None, "someone read the queue at mark 5: entry 7 may be out");
        assert_eq!(s.merge_target("tasks/3"), Some(8), "queued after that");
        s.wrote(7);
        s.pushed("tasks/4", Pushed::Added(9), 8);
        assert_eq!(s.merge_target("tasks/3"), Some(8), "this worker's own write of something else (mark 7) kept the chain");
        s.pushed("tasks/4", Pushed::Added(10), 10);
        assert_eq!(s.merge_target("tasks/3"), None, "mark 9 was someone else's");
    }

    #[test]
    fn a_fold_sends_the_new_operation_on_its_own_when_someone_else_touched_the_queue_since() {
        let mut s = State::default();
        let entry = |key: &str| Entry {
            idempotency_key: key.into(),
            record: Some("tasks/1".into()),
            ..Entry::from_json(r#"{"method":"PUT","url":"https://app.example/api/tasks/1","headers":[],"idempotencyKey":"k","queuedAt":0}"#).unwrap()
        };
        let (waiting, new) = (Entry { id: Some(1), ..entry("k1") }, entry("k2"));
        let offer = |s: &State, left: Mark| s.fold(left, Some((&waiting, b"{}".to_vec())), &new, b"{}");
        assert_eq!(offer(&s, 1), Fold::Separate, "a worker that has not written yet knows nothing of the queue");
        s.pushed("tasks/1", Pushed::Added(1), 4);
        assert!(matches!(offer(&s, 5), Fold::Into { .. }), "nobody touched the queue since this worker queued it");
        assert_eq!(offer(&s, 6), Fold::Separate, "a replay read it, or another worker wrote, meanwhile");
    }
}
