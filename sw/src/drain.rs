//! One replay run as a state machine with no I/O. It asks for the head of the queue, says what to
//! send, and, told what came back, what to write to the queue and tell the pages; it ends with the
//! run's result. The shell carries out each [`Command`] and reports what came of it; the clock and
//! the random draws for back-off come in with those reports, so a run is a plain function of its
//! inputs (and `tests/simulation.rs` drives it against a simulated queue, network and server).

use crate::batch::{self, Answer};
use crate::config::Config;
use crate::dead_letter::{DeadLetter, ANSWER_LIMIT};
use crate::entry::{Entry, RecordError};
use crate::error::Error;
use crate::lanes::{self, Candidate, Plan};
use crate::outcome::{settle, Attempt, Next};
use crate::protocol::{bounded_text, Event};
use crate::replay::{self, BatchReply, Mode, Run, Wait};
use std::collections::VecDeque;

/// What the shell does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Delete the delivered entries `remove`, then read up to `limit` records from the head of the
    /// queue, in order, in one transaction, and report them with [`Drain::window`]; with `texts`,
    /// each body as UTF-8 text, when it is text.
    ReadHead { limit: u32, texts: bool, remove: Vec<u64> },
    /// Delete these entries (delivered, or expired).
    Remove(Vec<u64>),
    /// Rewrite these entries in place, keeping their bodies: what an attempt taught.
    Update(Vec<Entry>),
    /// Move a record to the dead letters with its body; a letter without an entry is an
    /// unreadable record, kept raw beside it.
    Bury(DeadLetter),
    /// Send each of these entries alone, all at once; report each with [`Drain::sent`].
    Send(Vec<u64>),
    /// POST `payload` (the entries `ids`, in this order) to the batch endpoint `url`, with the
    /// page's replay headers; report it with [`Drain::batch_sent`].
    SendBatch { url: String, payload: String, ids: Vec<u64> },
    /// The server refused the credentials: no replay until the page hands over fresh ones.
    Hold,
    /// The batch endpoint is not one: replay one request at a time from now on.
    RefuseBatches,
    Tell(Vec<Event>),
    Warn(String),
    /// Wait this long, then go on; a wake-up ends the wait early (see [`Drain::network_may_be_back`]).
    Sleep(f64),
    /// The run is over: `Ok` with the last problem seen, if any.
    Done(Result<Option<String>, Error>),
}

/// One record at the head of the queue, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub id: u64,
    pub record: Result<Entry, RecordError>,
    /// The body when it is UTF-8 text (an empty body is), read only when asked.
    pub text: Option<String>,
    /// The entry's own request is out (queue-first): it is neither sent nor overtaken.
    pub busy: bool,
}

/// The batch request's fate, as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchSent {
    /// No answer at all.
    NoAnswer(String),
    /// An answer with this status and body (the items' results, when it is 2xx).
    Answered { status: u16, retry_after: Option<String>, body: String },
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// The next command reads the head.
    Read,
    WaitingForWindow,
    /// For the results of the requests sent, in any order.
    WaitingForSends(Vec<u64>),
    WaitingForBatch(Vec<u64>),
    Done,
}

pub struct Drain<'w> {
    config: &'w Config,
    origin: &'w str,
    batch_refused: bool,
    held: bool,
    run: Run,
    /// The usable entries of the last window, in queue order.
    window: Vec<Entry>,
    phase: Phase,
    out: VecDeque<Command>,
    /// The error that ends the run once the requests out have all been reported.
    stop: Option<Error>,
    /// The network may be back: what only met network failures goes at once, back-off or not.
    network_back: bool,
    /// Entries this run has sent: from then on their own back-off applies again.
    tried: Vec<u64>,
    /// Delivered entries not yet deleted: deleted in the transaction that reads the head next (one
    /// for a whole window and the next), or as the run ends. An entry leaves the queue only after
    /// its 2xx; one still there after a kill is sent again under its key.
    delivered: Vec<u64>,
    /// Whether every entry of the wave under way was delivered: then the rest of the window is
    /// still the head of the queue, and the next wave plans from it without reading again.
    clean_wave: bool,
    /// Window entries whose own request was out when they were read (queue-first).
    busy: Vec<u64>,
}

impl<'w> Drain<'w> {
    /// A run under the worker's options, for the worker at `origin`; `batch_refused`: an earlier
    /// run found the batch endpoint missing; `network_back`: its trigger says the network may be
    /// back (a `sync` event, a page's `online` or ask, a mutation that got through), so entries
    /// that only met network failures do not wait out their back-off. Back-off and `Retry-After`
    /// still hold for what the server answered 5xx or 429.
    pub fn new(config: &'w Config, origin: &'w str, batch_refused: bool, network_back: bool) -> Drain<'w> {
        Drain {
            config,
            origin,
            batch_refused,
            held: false,
            run: Run::default(),
            window: Vec::new(),
            phase: Phase::Read,
            out: VecDeque::new(),
            stop: None,
            network_back,
            tried: Vec::new(),
            delivered: Vec::new(),
            clean_wave: true,
            busy: Vec::new(),
        }
    }

    /// A trigger said the network may be back while the run waited out a [`Command::Sleep`]:
    /// from the next read, what only met network failures goes at once, tried in this run or not.
    pub fn network_may_be_back(&mut self) {
        self.network_back = true;
        self.tried.clear();
    }

    /// The next thing to do; `None` while the run waits for a report, and once it is done.
    pub fn poll(&mut self) -> Option<Command> {
        if let Some(command) = self.out.pop_front() {
            return Some(command);
        }
        match self.phase {
            Phase::Read => {
                self.phase = Phase::WaitingForWindow;
                let mode = self.mode();
                let remove = std::mem::take(&mut self.delivered);
                self.out.push_back(Command::ReadHead { limit: mode.window, texts: mode.batching, remove });
                self.out.pop_front()
            }
            _ => None,
        }
    }

    fn mode(&self) -> Mode {
        Mode::of(self.config, self.batch_refused)
    }

    /// The batch endpoint, on the worker's origin (a run batches only when `batchUrl` is set).
    fn batch_url(&self) -> String {
        format!("{}{}", self.origin, self.config.batch_url.as_deref().unwrap_or_default())
    }

    /// Deletes what was delivered and not yet deleted, now.
    fn flush_removals(&mut self) {
        if !self.delivered.is_empty() {
            self.out.push_back(Command::Remove(std::mem::take(&mut self.delivered)));
        }
    }

    fn finish(&mut self, result: Result<Option<String>, Error>) {
        self.phase = Phase::Done;
        self.flush_removals();
        self.out.push_back(Command::Done(result));
    }

    /// The head of the queue, as [`Command::ReadHead`] asked, read at `now`.
    pub fn window(&mut self, heads: Vec<Head>, now: f64) {
        debug_assert_eq!(self.phase, Phase::WaitingForWindow);
        if heads.is_empty() {
            let last = self.run.last_error().map(str::to_owned);
            return self.finish(Ok(last));
        }
        // Records that cannot be replayed go to the dead letters and expired entries are dropped;
        // then the head is read again.
        let mut cleared = false;
        let mut usable = Vec::with_capacity(heads.len());
        let mut busy = Vec::new();
        for head in heads {
            match head.record {
                Err(RecordError(reason)) => {
                    self.out.push_back(Command::Warn(format!("offline-sync: queue record {} moved to dead letters: {reason}", head.id)));
                    let letter = DeadLetter { id: head.id, reason, status: None, answer: None, dead_at: now, entry: None };
                    self.bury(letter);
                    cleared = true;
                }
                Ok(entry) if entry.is_expired(now, self.config.max_retention_ms) => {
                    self.out.push_back(Command::Remove(vec![head.id]));
                    let (method, url, queued_at) = (entry.method, entry.url, entry.queued_at);
                    self.out.push_back(Command::Tell(vec![Event::Expired { id: head.id, method, url, queued_at }]));
                    cleared = true;
                }
                Ok(mut entry) => {
                    entry.id = Some(head.id);
                    if self.network_back && entry.refusals == 0 && !self.tried.contains(&head.id) {
                        entry.next_attempt_at = None;
                    }
                    if head.busy {
                        busy.push(head.id);
                    }
                    usable.push((entry, head.text));
                }
            }
        }
        if cleared {
            self.phase = Phase::Read;
            return;
        }
        let (entries, texts): (Vec<Entry>, Vec<Option<String>>) = usable.into_iter().unzip();
        self.window = entries;
        self.busy = busy;
        self.plan(&texts, now);
    }

    /// Picks what the window sends next. `texts`: each window entry's body as text, for batches
    /// (empty when planning again from what is left of a window).
    fn plan(&mut self, texts: &[Option<String>], now: f64) {
        let mode = self.mode();
        self.clean_wave = true;
        let busy = &self.busy;
        let is_busy = |e: &Entry| busy.contains(&e.id.unwrap_or_default());
        let candidates: Vec<Candidate<'_>> = self
            .window
            .iter()
            .map(|e| Candidate { lanes: lanes::lanes(e.record.as_deref(), &e.url, mode.concurrency), ready_at: e.next_attempt_at, busy: is_busy(e) })
            .collect();
        let plan = lanes::plan(&candidates, mode.concurrency as usize, now);
        let ids: Vec<u64> = match plan {
            // Every lane waits for a request already out (queue-first), which replays the rest after it.
            Plan::Idle => {
                let last = self.run.last_error().map(str::to_owned);
                return self.finish(Ok(last));
            }
            Plan::WaitUntil(until) => {
                match replay::wait(until, now) {
                    Wait::Sleep(ms) => {
                        // A worker killed during the wait would send them again.
                        self.flush_removals();
                        self.out.push_back(Command::Sleep(ms));
                        self.phase = Phase::Read;
                    }
                    Wait::GiveUp(at) => self.finish(Err(Error::Deferred(at))),
                }
                return;
            }
            Plan::Send(_) if mode.batching => {
                // The head, then the ready entries right after it that can travel with it.
                let taken = batch::gather(self.window.iter().zip(texts).enumerate().map(|(i, (e, text))| {
                    let ready = i == 0 || (e.next_attempt_at.is_none_or(|at| at <= now) && !is_busy(e));
                    text.as_ref().map(String::len).filter(|_| ready && batch::same_origin(e, self.origin))
                }));
                let ids: Vec<u64> = self.window.iter().take(taken).filter_map(|e| e.id).collect();
                self.tried.extend(&ids);
                if taken > 1 {
                    // Gathered only where each has a text.
                    let items: Vec<(&Entry, &str)> = self.window.iter().zip(texts).take(taken).filter_map(|(e, text)| Some((e, text.as_deref()?))).collect();
                    let payload = batch::encode(&items, self.origin);
                    debug_assert!(self.delivered.is_empty(), "a batch is planned only from a window just read");
                    self.out.push_back(Command::SendBatch { url: self.batch_url(), payload, ids: ids.clone() });
                    self.phase = Phase::WaitingForBatch(ids);
                    return;
                }
                ids
            }
            Plan::Send(picked) => picked.iter().filter_map(|&i| self.window[i].id).collect(),
        };
        self.tried.extend(&ids);
        self.out.push_back(Command::Send(ids.clone()));
        self.phase = Phase::WaitingForSends(ids);
    }

    /// What became of one request of a [`Command::Send`]: `body`, the first bytes of the answer;
    /// `random`, uniform in [0, 1), for the back-off's jitter.
    pub fn sent(&mut self, id: u64, attempt: Attempt, body: &[u8], now: f64, random: f64) {
        let Phase::WaitingForSends(ref mut waiting) = self.phase else { return };
        let Some(at) = waiting.iter().position(|&w| w == id) else { return };
        waiting.remove(at);
        let left = waiting.len();
        self.conclude(id, &attempt, body, now, random);
        if left == 0 {
            self.wave_done(now);
        }
    }

    /// What became of a [`Command::SendBatch`].
    pub fn batch_sent(&mut self, sent: BatchSent, now: f64, random: f64) {
        let Phase::WaitingForBatch(ref ids) = self.phase else { return };
        let ids = ids.clone();
        let Some((&first, rest)) = ids.split_first() else { return self.wave_done(now) };
        match sent {
            BatchSent::NoAnswer(reason) => {
                // Any item may have arrived: each counts as sent, and the first waits its back-off.
                let mut counted = Vec::with_capacity(rest.len());
                for e in self.window.iter_mut().filter(|e| e.id.is_some_and(|id| rest.contains(&id))) {
                    batch::count_as_sent(e);
                    counted.push(e.clone());
                }
                if !counted.is_empty() {
                    self.out.push_back(Command::Update(counted));
                }
                self.conclude(first, &Attempt::NetworkError(reason), &[], now, random);
            }
            BatchSent::Answered { status, retry_after, body } => match replay::batch_reply(status) {
                BatchReply::NotTaken => {
                    let url = self.batch_url();
                    self.out.push_back(Command::Warn(format!("offline-sync: {url} answered {status}; replaying one request at a time")));
                    self.out.push_back(Command::RefuseBatches);
                    self.batch_refused = true;
                    // Nothing was attempted: each goes again as if this run had not tried it.
                    self.tried.retain(|id| !ids.contains(id));
                }
                BatchReply::Failed => self.conclude(first, &Attempt::Answered { status, retry_after }, &[], now, random),
                BatchReply::Results => match batch::decode(&body, ids.len()) {
                    Ok(answers) => self.batch_results(&ids, &answers, now, random),
                    Err(e) => self.stop = Some(Error::Browser(e)),
                },
            },
        }
        // A batch's wave reads the head again, which deletes its delivered prefix.
        self.clean_wave = false;
        self.wave_done(now);
    }

    /// The delivered prefix is told in one round and deleted with the next read; the first item not
    /// delivered (if any) is settled as if sent alone, since the server stopped there.
    fn batch_results(&mut self, ids: &[u64], answers: &[Answer], now: f64, random: f64) {
        let delivered = answers.iter().take_while(|a| (200..300).contains(&a.status)).count();
        let mut events = Vec::with_capacity(delivered);
        let max_attempts = self.config.max_attempts;
        for (id, answer) in ids.iter().zip(answers).take(delivered) {
            if let Some(entry) = self.entry_mut(*id) {
                settle(entry, &Attempt::Answered { status: answer.status, retry_after: None }, max_attempts, now, 0.0);
                events.push(Event::replayed(entry, answer.status, answer.body.as_bytes()));
                self.delivered.push(*id);
            }
        }
        if !events.is_empty() {
            self.run.sent(true);
            self.out.push_back(Command::Tell(events));
        }
        if let (Some(&id), Some(answer)) = (ids.get(delivered), answers.get(delivered)) {
            let attempt = Attempt::Answered { status: answer.status, retry_after: answer.retry_after() };
            self.conclude(id, &attempt, answer.body.as_bytes(), now, random);
        }
    }

    /// After a wave: go on with the rest of the window when the whole wave was delivered and
    /// nothing in it has expired since it was read, else read the head again (which clears what
    /// expired); unless something ended the run.
    fn wave_done(&mut self, now: f64) {
        if let Some(error) = self.stop.take() {
            self.window.clear();
            return self.finish(Err(error));
        }
        if self.held {
            self.window.clear();
            let last = self.run.last_error().map(str::to_owned);
            return self.finish(Ok(last));
        }
        let max_retention = self.config.max_retention_ms;
        let still_good = !self.window.iter().any(|e| e.is_expired(now, max_retention));
        if self.clean_wave && still_good && !self.window.is_empty() && !self.mode().batching {
            return self.plan(&[], now);
        }
        self.window.clear();
        self.phase = Phase::Read;
    }

    /// An entry of the window the last [`Command::Send`] or [`Command::SendBatch`] named.
    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.window.iter().find(|e| e.id == Some(id))
    }

    fn entry_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.window.iter_mut().find(|e| e.id == Some(id))
    }

    fn bury(&mut self, letter: DeadLetter) {
        let view = letter.view();
        self.out.push_back(Command::Bury(letter));
        let event = Event::DeadLettered { id: view.id, method: view.method, url: view.url, status: view.status, reason: view.reason };
        self.out.push_back(Command::Tell(vec![event]));
    }

    /// Applies what one attempt taught about an entry: remove it, note it and wait, hold the
    /// queue, or move it to the dead letters; and tells the pages.
    fn conclude(&mut self, id: u64, attempt: &Attempt, body: &[u8], now: f64, random: f64) {
        let answered = matches!(attempt, Attempt::Answered { .. });
        // One that never left says nothing of the network.
        let network_down = !matches!(attempt, Attempt::Unsendable(_)) && self.run.sent(answered);
        let max_attempts = self.config.max_attempts;
        let Some(entry) = self.entry_mut(id) else { return };
        let next = settle(entry, attempt, max_attempts, now, random);
        let entry = entry.clone();
        if next != Next::Remove {
            self.clean_wave = false;
        }
        match next {
            Next::Remove => {
                let status = entry.last_status.unwrap_or_default();
                self.delivered.push(id);
                self.window.retain(|e| e.id != Some(id));
                self.out.push_back(Command::Tell(vec![Event::replayed(&entry, status, body)]));
            }
            Next::RetryAt(_) => {
                // The same entry goes again once its time comes: nothing on its lanes overtakes it.
                self.run.problem(problem(&entry));
                self.out.push_back(Command::Update(vec![entry.clone()]));
                if answered {
                    self.out.push_back(Command::Tell(vec![Event::failed(&entry)]));
                } else if network_down && self.stop.is_none() {
                    self.stop = Some(Error::Network(entry.last_error.clone().unwrap_or_default()));
                }
            }
            Next::Hold => {
                self.run.problem(problem(&entry));
                self.held = true;
                self.out.push_back(Command::Update(vec![entry.clone()]));
                self.out.push_back(Command::Hold);
                let status = entry.last_status.unwrap_or_default();
                self.out.push_back(Command::Tell(vec![Event::AuthRequired { id, method: entry.method.clone(), url: entry.url.clone(), status }]));
            }
            Next::DeadLetter(reason) => {
                self.run.problem(problem(&entry));
                let answer = answered.then(|| bounded_text(body, ANSWER_LIMIT).0);
                let letter = DeadLetter { id, reason, status: entry.last_status, answer, dead_at: now, entry: Some(entry) };
                self.bury(letter);
            }
        }
    }
}

fn problem(e: &Entry) -> String {
    format!("{} for {} {}", e.last_error.as_deref().unwrap_or("failure"), e.method, e.url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::READ_AHEAD;

    const ORIGIN: &str = "https://app.example";

    fn new(config: &Config) -> Drain<'_> {
        Drain::new(config, ORIGIN, false, false)
    }

    fn entry(id: u64, url: &str) -> Entry {
        let mut e = Entry::from_json(r#"{"method":"POST","url":"u","headers":[],"idempotencyKey":"k","queuedAt":1000}"#).unwrap();
        e.id = Some(id);
        e.url = url.into();
        e.idempotency_key = format!("k{id}");
        e
    }

    fn head(id: u64) -> Head {
        Head { id, record: Ok(entry(id, &format!("https://app.example/api/t/{id}"))), text: Some("{}".into()), busy: false }
    }

    /// [`head`], its entry changed as `change` says.
    fn head_with(id: u64, change: impl FnOnce(&mut Entry)) -> Head {
        let mut h = head(id);
        if let Ok(e) = h.record.as_mut() {
            change(e);
        }
        h
    }

    fn drain_all(d: &mut Drain) -> Vec<Command> {
        std::iter::from_fn(|| d.poll()).collect()
    }

    #[test]
    fn an_empty_queue_ends_the_run_at_once() {
        let config = Config::default();
        let mut d = new(&config);
        assert_eq!(d.poll(), Some(Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }));
        assert_eq!(d.poll(), None, "waits for the window");
        d.window(Vec::new(), 2_000.0);
        assert_eq!(drain_all(&mut d), [Command::Done(Ok(None))]);
    }

    #[test]
    fn delivered_entries_are_told_at_once_and_deleted_together_once_the_window_is_through() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1), head(2), head(3)], 2_000.0);
        assert_eq!(drain_all(&mut d), [Command::Send(vec![1])], "one at a time by default");
        d.sent(1, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(matches!(&commands[0], Command::Tell(events) if matches!(events[0], Event::Replayed { id: 1, status: 201, .. })));
        assert_eq!(commands[1..], [Command::Send(vec![2])], "the rest of the window: no read, no delete yet");
        d.sent(2, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_020.0, 0.5);
        assert_eq!(drain_all(&mut d)[1..], [Command::Send(vec![3])]);
        d.sent(3, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_030.0, 0.5);
        let commands = drain_all(&mut d);
        assert_eq!(commands[1..], [Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![1, 2, 3] }], "deleted together, in the transaction that reads the head again");
        d.window(Vec::new(), 2_040.0);
        assert_eq!(drain_all(&mut d), [Command::Done(Ok(None))]);
    }

    /// A run with three entries in its window, the first one delivered.
    fn first_of_three_delivered(config: &Config) -> Drain<'_> {
        let mut d = new(config);
        d.poll();
        d.window(vec![head(1), head(2), head(3)], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_010.0, 0.5);
        drain_all(&mut d);
        d
    }

    #[test]
    fn an_entry_not_delivered_ends_the_read_ahead() {
        let config = Config::default();
        let mut d = first_of_three_delivered(&config);
        d.sent(2, Attempt::Answered { status: 503, retry_after: Some("1".into()) }, b"busy", 2_020.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(matches!(&commands[0], Command::Update(e) if e[0].id == Some(2)), "{commands:?}");
        assert_eq!(commands.last(), Some(&Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![1] }), "the head again, not entry 3");
    }

    #[test]
    fn an_entry_no_request_can_be_made_of_is_buried_and_the_queue_goes_on() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1), head(2)], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::Unsendable("TypeError: invalid header".into()), &[], 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(matches!(&commands[0], Command::Bury(letter) if letter.id == 1 && letter.answer.is_none()), "{commands:?}");
        assert!(matches!(&commands[1], Command::Tell(events) if matches!(events[0], Event::DeadLettered { id: 1, .. })), "{commands:?}");
        assert_eq!(commands[2..], [Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }]);
        d.window(vec![head(2)], 2_020.0);
        assert_eq!(drain_all(&mut d), [Command::Send(vec![2])], "the entry behind it goes");
    }

    #[test]
    fn an_entry_that_expired_while_read_ahead_is_not_sent() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1), head(2)], 2_000.0);
        drain_all(&mut d);
        let later = 1_000.0 + config.max_retention_ms + 1.0;
        d.sent(1, Attempt::Answered { status: 201, retry_after: None }, b"{}", later, 0.5);
        let commands = drain_all(&mut d);
        assert_eq!(commands[1..], [Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![1] }], "read again: the read clears it");
    }

    #[test]
    fn a_run_that_ends_deletes_what_it_delivered_first() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        let out = Head { busy: true, ..head(2) };
        d.window(vec![head(1), out], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert_eq!(commands[1..], [Command::Remove(vec![1]), Command::Done(Ok(None))], "entry 2's own request is out: the run ends");
    }

    #[test]
    fn three_network_failures_in_a_row_end_the_run_with_the_entry_kept() {
        let config = Config::default();
        let mut d = new(&config);
        assert_eq!(d.poll(), Some(Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }));
        for n in 1..=3 {
            d.window(vec![head(1)], 2_000.0);
            assert_eq!(drain_all(&mut d), [Command::Send(vec![1])]);
            // No jitter: the back-off is nothing, so the same entry goes again at once.
            d.sent(1, Attempt::NetworkError("Failed to fetch".into()), &[], 2_000.0, 0.0);
            let commands = drain_all(&mut d);
            assert!(matches!(&commands[0], Command::Update(e) if e[0].attempts == 1), "{commands:?}");
            if n < 3 {
                assert_eq!(commands[1..], [Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }], "failure {n}");
            } else {
                assert!(matches!(commands.last(), Some(Command::Done(Err(Error::Network(_))))), "{commands:?}");
            }
        }
    }

    #[test]
    fn with_the_network_back_what_only_met_network_failures_goes_at_once() {
        let config = Config::default();
        let waiting = |id: u64, refusals: u32| head_with(id, |e| (e.attempts, e.refusals, e.next_attempt_at) = (4, refusals, Some(2_000.0 + 200_000.0)));
        let mut d = Drain::new(&config, ORIGIN, false, true);
        d.poll();
        d.window(vec![waiting(1, 0)], 2_000.0);
        assert_eq!(drain_all(&mut d), [Command::Send(vec![1])], "no waiting out its back-off");
        d.sent(1, Attempt::NetworkError("Failed to fetch".into()), &[], 2_010.0, 0.99);
        drain_all(&mut d);
        d.window(vec![waiting(1, 0)], 2_020.0);
        assert!(matches!(drain_all(&mut d)[..], [Command::Done(Err(Error::Deferred(_)))]), "once tried, its back-off holds again");

        let mut d = Drain::new(&config, ORIGIN, false, true);
        d.poll();
        d.window(vec![waiting(1, 1)], 2_000.0);
        assert!(matches!(drain_all(&mut d)[..], [Command::Done(Err(Error::Deferred(_)))]), "the server asked it to wait: it waits");

        let mut d = Drain::new(&config, ORIGIN, false, false);
        d.poll();
        d.window(vec![waiting(1, 0)], 2_000.0);
        assert!(matches!(drain_all(&mut d)[..], [Command::Done(Err(Error::Deferred(_)))]), "no sign of the network: it waits");
    }

    #[test]
    fn a_run_woken_from_its_wait_sends_what_only_met_network_failures_at_once() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1)], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::NetworkError("Failed to fetch".into()), &[], 2_000.0, 0.99);
        let waiting = |d: &mut Drain| d.window(vec![head_with(1, |e| (e.attempts, e.next_attempt_at) = (1, Some(2_990.0)))], 2_010.0);
        drain_all(&mut d);
        waiting(&mut d);
        assert!(matches!(drain_all(&mut d)[..], [Command::Sleep(_), Command::ReadHead { .. }]), "it waits out its back-off");
        waiting(&mut d);
        assert!(matches!(drain_all(&mut d)[..], [Command::Sleep(_), Command::ReadHead { .. }]), "and again, tried in this run");
        d.network_may_be_back();
        waiting(&mut d);
        assert_eq!(drain_all(&mut d), [Command::Send(vec![1])], "woken: at once");
    }

    #[test]
    fn unreadable_and_expired_records_are_cleared_before_anything_is_sent() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        let old = head_with(2, |e| e.queued_at = 0.0);
        let bad = Head { id: 1, record: Err(RecordError("unreadable queue record: x".into())), text: None, busy: false };
        d.window(vec![bad, old, head(3)], 1.0 + Config::default().max_retention_ms);
        let commands = drain_all(&mut d);
        assert!(matches!(&commands[1], Command::Bury(l) if l.id == 1 && l.entry.is_none()));
        assert!(commands.contains(&Command::Remove(vec![2])));
        assert_eq!(commands.last(), Some(&Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }), "then the head again");
    }

    #[test]
    fn with_a_batch_endpoint_the_head_and_what_can_follow_go_together() {
        let mut config = Config::default();
        config.batch_url = Some("/api/_batch".into());
        let mut d = new(&config);
        assert_eq!(d.poll(), Some(Command::ReadHead { limit: 50, texts: true, remove: vec![] }));
        let mut binary = head(3);
        binary.text = None;
        d.window(vec![head(1), head(2), binary, head(4)], 2_000.0);
        let [Command::SendBatch { url, payload, ids }] = &drain_all(&mut d)[..] else { panic!("one batch") };
        assert_eq!((url.as_str(), ids.as_slice()), ("https://app.example/api/_batch", &[1, 2][..]));
        let payload: serde_json::Value = serde_json::from_str(payload).unwrap();
        let paths: Vec<&str> = payload["requests"].as_array().unwrap().iter().map(|r| r["url"].as_str().unwrap()).collect();
        assert_eq!(paths, ["/api/t/1", "/api/t/2"], "the head and the text right after it, by path");
        assert_eq!(payload["requests"][0]["body"], "{}");
        let body = r#"{"results":[{"status":201,"body":"{}"},{"status":422,"body":"no"}]}"#.into();
        d.batch_sent(BatchSent::Answered { status: 200, retry_after: None, body }, 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(commands.iter().any(|c| matches!(c, Command::Bury(l) if l.id == 2 && l.status == Some(422))), "{commands:?}");
        assert_eq!(commands.last(), Some(&Command::ReadHead { limit: 50, texts: true, remove: vec![1] }), "the delivered one goes with the read");
    }

    #[test]
    fn a_server_without_the_batch_endpoint_makes_the_run_go_one_by_one() {
        let mut config = Config::default();
        config.batch_url = Some("/api/_batch".into());
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1), head(2)], 2_000.0);
        drain_all(&mut d);
        d.batch_sent(BatchSent::Answered { status: 404, retry_after: None, body: String::new() }, 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(commands.contains(&Command::RefuseBatches));
        assert_eq!(commands.last(), Some(&Command::ReadHead { limit: READ_AHEAD, texts: false, remove: vec![] }));
    }

    #[test]
    fn refused_credentials_hold_the_queue_and_end_the_run() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        d.window(vec![head(1), head(2)], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::Answered { status: 401, retry_after: None }, &[], 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(commands.contains(&Command::Hold));
        assert!(matches!(commands.last(), Some(Command::Done(Ok(Some(_))))), "{commands:?}");
    }

    #[test]
    fn a_hold_after_deliveries_deletes_them_as_the_run_ends() {
        let config = Config::default();
        let mut d = first_of_three_delivered(&config);
        d.sent(2, Attempt::Answered { status: 401, retry_after: None }, &[], 2_020.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(matches!(commands[commands.len() - 2..], [Command::Remove(ref ids), Command::Done(Ok(Some(_)))] if ids == &[1]), "{commands:?}");
    }

    #[test]
    fn delivered_entries_are_deleted_before_a_wait_in_place() {
        let config = Config::default();
        let mut d = new(&config);
        d.poll();
        let later = head_with(2, |e| (e.next_attempt_at, e.refusals) = (Some(7_000.0), 1));
        d.window(vec![head(1), later], 2_000.0);
        drain_all(&mut d);
        d.sent(1, Attempt::Answered { status: 201, retry_after: None }, b"{}", 2_010.0, 0.5);
        let commands = drain_all(&mut d);
        assert!(matches!(commands[1..3], [Command::Remove(ref ids), Command::Sleep(_)] if ids == &[1]), "a worker killed while it waits would send it again: {commands:?}");
    }
}
