//! Deterministic simulation of replay: the real run (`drain::Drain`) against a simulated queue
//! (writes that fail), network (requests that never arrive, answers that are lost), server (an
//! idempotency store, refusals, busy answers with `Retry-After`), clock, and worker kills that
//! drop everything but what was written, with two workers (an old one and its update) taking
//! turns at the one queue, as the replay lock makes them. All of it is drawn from one seed.
//!
//! A second scenario has the page go on writing while the replay runs, through either worker (an
//! update and the worker it replaces may both intercept for a while): each mutation is offered
//! to the queue as the worker does (`coalesce::record_key`, `State::merge_target`, `State::fold`
//! with the queue's mark, which every write and read moves on), and the server's records must end
//! as if every mutation that was answered had been applied once, in order. In some seeds the
//! worker runs queue-first: each write is committed, and its own request leaves when
//! `State::committed_first` says so, coming back at any point of a run, or never if its worker is
//! killed; a replay must neither send nor overtake it. A write with nothing to merge into waits
//! in the group commit, which commits it with whatever came meanwhile, some steps later.
//!
//! A third has the page send mutations network-first, 16 at a time, while the server goes down
//! and comes back: the worker's send-probe-or-keep decision (`State::live`) is checked against
//! what it last heard.
//!
//! `OFFLINE_SYNC_SIM_SEEDS=N` runs N seeds (2000 by default); `OFFLINE_SYNC_SIM_SEED=S` runs seed
//! S alone, as a failure prints it.

use offline_sync::coalesce::{self, Fold, Pushed};
use offline_sync::config::Config;
use offline_sync::dead_letter::DeadLetter;
use offline_sync::drain::{BatchSent, Command, Drain, Head};
use offline_sync::entry::Entry;
use offline_sync::error::Error;
use offline_sync::intercept::{self, First, Live, Own, Owned, Returned, Then, Undelivered};
use offline_sync::outcome::Attempt;
use offline_sync::state::State;
use serde_json::Value;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const ORIGIN: &str = "https://app.example";
const BATCH_PATH: &str = "/api/_batch";

/// How the server treats one mutation, by its Idempotency-Key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Applied on its first arrival; later arrivals get the stored answer.
    Accepted,
    /// 422 every time: the request itself is wrong.
    Refused,
    /// 503 for its first `n` arrivals (with `Retry-After` when `retry_after`), then accepted.
    Busy { n: u32, retry_after: bool },
}

#[derive(Debug, Clone)]
struct Mutation {
    entry: Entry,
    body: Vec<u8>,
    fate: Fate,
}

/// What the server saw and did.
#[derive(Default)]
struct Server {
    /// The records, by `collection/id`, as the mutations applied left them.
    records: BTreeMap<String, Value>,
    /// Key → (time applied, answer status) of the first application.
    applied: BTreeMap<String, f64>,
    /// Keys in the order they were first applied.
    order: Vec<String>,
    /// Arrivals per key, applied or not.
    arrivals: BTreeMap<String, u32>,
    batches: bool,
}

impl Server {
    /// One request arriving: its status.
    fn arrive(&mut self, entry: &Entry, body: &[u8], fate: Fate, now: f64) -> (u16, Option<String>) {
        let key = entry.idempotency_key.as_str();
        let seen = self.arrivals.entry(key.to_owned()).or_insert(0);
        *seen += 1;
        if self.applied.contains_key(key) {
            return (201, None);
        }
        match fate {
            Fate::Refused => (422, None),
            Fate::Busy { n, retry_after } if *seen <= n => (503, retry_after.then(|| "1".to_owned())),
            _ => {
                self.applied.insert(key.to_owned(), now);
                self.order.push(key.to_owned());
                if let Some(record) = &entry.record {
                    apply(&mut self.records, record, &entry.method, body);
                }
                (201, None)
            }
        }
    }
}

/// What the seeds exercised, summed, so a run shows that the faults really happened.
#[derive(Default, Debug)]
struct Stats {
    mutations: u64,
    applied: u64,
    resent_after_arrival: u64,
    dead_letters: u64,
    expired: u64,
    kills: u64,
    storage_faults: u64,
    batches: u64,
    given_up: u64,
    /// Writes that folded into a waiting entry, or cancelled one.
    folded: u64,
    /// Waits in place ended early by a trigger that said the network may be back.
    wakes: u64,
    /// Queue-first requests that left on their own, not sent by a replay.
    own_sent: u64,
}

/// A mutation's effect on the records, as a server applies one: a create of a new record, a
/// replacement or merge patch of a live one, a delete.
fn apply(records: &mut BTreeMap<String, Value>, record: &str, method: &str, body: &[u8]) {
    let body = || serde_json::from_slice(body).unwrap_or(Value::Null);
    match method {
        "POST" if !records.contains_key(record) => drop(records.insert(record.to_owned(), body())),
        "PUT" if records.contains_key(record) => drop(records.insert(record.to_owned(), body())),
        "PATCH" => {
            if let Some(current) = records.get_mut(record) {
                json_patch::merge(current, &body());
            }
        }
        "DELETE" => drop(records.remove(record)),
        _ => {}
    }
}

/// What one worker keeps in memory across its runs (and loses when killed).
#[derive(Default)]
struct Memory {
    state: State,
    /// Queue-first: entries whose own request this worker has out, as they left.
    out: Vec<(u64, Entry, Vec<u8>)>,
    /// Writes waiting in the group commit: they go in one transaction, some time later.
    commits: Vec<(Entry, Vec<u8>, String)>,
}

enum End {
    Finished(Result<Option<String>, Error>),
    Killed,
    StorageFailed,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    now: f64,
    config: Config,
    mutations: Vec<Mutation>,
    /// The queue as IndexedDB holds it: id → entry, and each entry's body.
    queue: BTreeMap<u64, Entry>,
    bodies: BTreeMap<u64, Vec<u8>>,
    fates: BTreeMap<String, Fate>,
    next_id: u64,
    /// The page goes on writing while the network is out.
    writing: bool,
    /// The worker runs with `queueFirst`: each write is committed, then its own request leaves
    /// if it is first in line and no replay runs.
    queue_first: bool,
    /// A queue-first request came back since the last run began: the shell starts a replay
    /// (`after_online_answer`, or the Background Sync a kept entry asks for).
    replay_owed: bool,
    /// The queue's mark: each write to the queue (a push, a merge) and each read of it moves it
    /// on (`Queue::push_all`, `Queue::coalesce`, `Queue::read`).
    mark: u64,
    /// Keys whose entries another worker's queue-first answer removed while a run was under way.
    delivered_elsewhere: BTreeSet<String>,
    /// Every run's trigger says the network may be back (once it is).
    network_back: bool,
    /// What the page wrote and was answered 202 for, in order: (record, method, body).
    answered: Vec<(String, String, Vec<u8>)>,
    /// The records the page believes exist (it writes only to those, or creates new ones).
    live: Vec<String>,
    written: u64,
    dead: BTreeMap<u64, DeadLetter>,
    server: Server,
    /// Keys whose entry was removed from the queue, and when.
    removed_at: BTreeMap<String, f64>,
    fail_rate: f64,
    lose_rate: f64,
    kill_rate: f64,
    storage_fault_rate: f64,
    stats: Stats,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut config = Config::default();
        config.max_attempts = rng.random_range(2..=5);
        config.replay_concurrency = if rng.random_bool(0.3) { rng.random_range(2..=4) } else { 1 };
        if rng.random_bool(0.3) {
            config.batch_url = Some(BATCH_PATH.into());
            config.batch_size = rng.random_range(2..=8);
        }
        if rng.random_bool(0.2) {
            config.max_retention_ms = rng.random_range(30_000.0..600_000.0);
        }
        let now = 1_764_000_000_000.0;
        // Some queues are longer than a replay reads at once (`READ_AHEAD`), and some servers
        // rarely refuse or put off: runs that go through whole windows.
        let count = if rng.random_bool(0.3) { rng.random_range(17..=48) } else { rng.random_range(1..=24) };
        let troubles = if rng.random_bool(0.5) { 20 } else { 200 };
        let records = rng.random_range(1..=5);
        let mut mutations = Vec::with_capacity(count);
        for i in 1..=count as u64 {
            let record = rng.random_range(0..records);
            let (method, url) = match rng.random_range(0..4) {
                0 => ("POST", format!("{ORIGIN}/api/tasks")),
                1 => ("PUT", format!("{ORIGIN}/api/tasks/{record}")),
                2 => ("PATCH", format!("{ORIGIN}/api/tasks/{record}")),
                _ => ("DELETE", format!("{ORIGIN}/api/projects/{record}")),
            };
            let body: Vec<u8> = if rng.random_bool(0.15) { vec![0xff, 0x00, i as u8] } else { format!("{{\"n\":{i}}}").into_bytes() };
            let fate = match rng.random_range(0..troubles) {
                0 => Fate::Refused,
                1..=3 => Fate::Busy { n: rng.random_range(1..=6), retry_after: rng.random_bool(0.5) },
                _ => Fate::Accepted,
            };
            let key = format!("key-{i}");
            let entry = Entry {
                id: None,
                method: method.into(),
                url,
                headers: vec![("idempotency-key".into(), key.clone())],
                idempotency_key: key,
                record: (method != "POST").then(|| format!("tasks/{record}")),
                credentials: Some("same-origin".into()),
                queued_at: now - rng.random_range(0.0..120_000.0),
                attempts: u32::from(rng.random_bool(0.2)),
                refusals: 0,
                next_attempt_at: None,
                last_status: None,
                last_error: Some("network error: offline".into()),
            };
            mutations.push(Mutation { entry, body, fate });
        }
        let queue = mutations.iter().enumerate().map(|(i, m)| (i as u64 + 1, m.entry.clone())).collect();
        let bodies = mutations.iter().enumerate().map(|(i, m)| (i as u64 + 1, m.body.clone())).collect();
        let fates = mutations.iter().map(|m| (m.entry.idempotency_key.clone(), m.fate)).collect();
        let server = Server { batches: rng.random_bool(0.8), ..Server::default() };
        Sim {
            seed,
            now,
            config,
            next_id: mutations.len() as u64 + 1,
            mutations,
            queue,
            bodies,
            fates,
            writing: false,
            queue_first: false,
            replay_owed: false,
            mark: 0,
            delivered_elsewhere: BTreeSet::new(),
            network_back: false,
            answered: Vec::new(),
            live: Vec::new(),
            written: 0,
            dead: BTreeMap::new(),
            server,
            removed_at: BTreeMap::new(),
            fail_rate: rng.random_range(0.0..0.6),
            lose_rate: rng.random_range(0.0..0.2),
            kill_rate: rng.random_range(0.0..0.05),
            storage_fault_rate: rng.random_range(0.0..0.05),
            rng,
            stats: Stats::default(),
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!("seed {}: {what}\n  rerun alone: OFFLINE_SYNC_SIM_SEED={} cargo test -p offline-sync --test simulation", self.seed, self.seed)
    }

    fn fate(&self, key: &str) -> Fate {
        self.fates.get(key).copied().unwrap_or(Fate::Accepted)
    }

    fn bodies_sent(&self, entry: &Entry) -> Vec<u8> {
        entry.id.and_then(|id| self.bodies.get(&id)).cloned().unwrap_or_default()
    }

    /// The page writes one mutation, and the worker keeps it as it does when the network is
    /// out: on the latest waiting entry on its record where it may fold, else on its own.
    fn write(&mut self, memory: &mut Memory) {
        self.written += 1;
        let n = self.written;
        let existing = (!self.live.is_empty()).then(|| self.live[self.rng.random_range(0..self.live.len())].clone());
        let (method, record_id, body) = match (self.rng.random_range(0..5), existing) {
            (0, _) | (_, None) => ("POST", format!("c{n}"), None),
            (1, Some(id)) => ("PUT", id, None),
            (2 | 3, Some(id)) => ("PATCH", id, None),
            (_, Some(id)) => ("DELETE", id, Some(Vec::new())),
        };
        let body = body.unwrap_or_else(|| self.change(method, &record_id).to_string().into_bytes());
        let path = if method == "POST" { "/api/tasks".to_owned() } else { format!("/api/tasks/{record_id}") };
        let record = coalesce::record_key(&self.config.coalesce, method, &path, &body);
        let key = format!("write-{n}");
        let entry = Entry {
            id: None,
            method: method.into(),
            url: format!("{ORIGIN}{path}"),
            headers: vec![("idempotency-key".into(), key.clone())],
            idempotency_key: key,
            record: record.clone(),
            credentials: Some("same-origin".into()),
            queued_at: self.now,
            attempts: 0,
            refusals: 0,
            next_attempt_at: None,
            last_error: Some("network error: offline".into()),
            last_status: None,
        };
        if self.storage_fails() {
            return; // 507: the page knows it was not kept.
        }
        let Some(record) = record else { self.fail(&format!("{method} {path} has no record")) };
        if self.queue_first {
            self.write_first(memory, entry, body, record);
        } else {
            self.keep(memory, entry, body, record);
        }
        match method {
            "POST" => self.live.push(record_id),
            "DELETE" => self.live.retain(|l| *l != record_id),
            _ => {}
        }
    }

    /// Queue-first, as the shell does it: committed first, with the attempts the core's first step
    /// gives, then its own request does as `State::committed_first` (and `head_read`) say.
    fn write_first(&mut self, memory: &mut Memory, entry: Entry, body: Vec<u8>, record: String) {
        let First::QueueFirst { attempts } = memory.state.intercept(true, true, true).first() else { self.fail("queue-first is not the first step") };
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry { id: Some(id), attempts, last_error: None, ..entry };
        self.queue.insert(id, entry.clone());
        self.bodies.insert(id, body.clone());
        self.answered.push((record, entry.method.clone(), body.clone()));
        // Its commit moves the mark on, and so does the read of the queue's head, when the core
        // asks for it.
        self.next_mark();
        let mut own = memory.state.committed_first(id, self.queue.len() as u32, true);
        if own == Own::ReadHead {
            self.next_mark();
            own = memory.state.head_read(id, self.queue.keys().next().copied(), true);
        }
        if own == Own::Send {
            self.stats.own_sent += 1;
            memory.out.push((id, entry, body));
        }
    }

    /// A queue-first request of `memory`'s comes back; the shell removes its entry once it is
    /// delivered, or notes the failure on it, as `State::own_returned` says. `elsewhere`: another
    /// worker's replay runs meanwhile, and may still send the entry from what it read (a duplicate
    /// under the same key).
    fn own_answer(&mut self, memory: &mut Memory, at: usize, elsewhere: bool) {
        let (id, mut entry, body) = memory.out.swap_remove(at);
        let returned = match self.over_network(&entry, &body).0 {
            Attempt::Answered { status, .. } => Returned::Answered(status),
            Attempt::NetworkError(reason) => Returned::Failed(reason),
            Attempt::Unsendable(reason) => self.fail(&format!("the simulated network made no request: {reason}")),
        };
        let owned = memory.state.own_returned(id, returned);
        self.replay_owed = true;
        if self.storage_fails() {
            return;
        }
        match owned {
            // Any answer is the page's, which counts every queue-first write as answered: the
            // server of `page_writing` accepts every write, so the answer is always a 2xx.
            Owned::Delivered(status) if !(200..300).contains(&status) => self.fail(&format!("{} was answered {status}", entry.idempotency_key)),
            Owned::Delivered(_) => {
                if let Some(gone) = self.queue.remove(&id) {
                    if elsewhere {
                        self.delivered_elsewhere.insert(gone.idempotency_key.clone());
                    }
                    self.removed_at.insert(gone.idempotency_key, self.now);
                }
            }
            Owned::Stays(Some(reason)) => {
                entry.last_error = Some(reason);
                self.rewrite(id, entry);
            }
            Owned::Stays(None) => {}
        }
    }

    /// `meta`'s key generator, moved on by a write or a read of the queue.
    fn next_mark(&mut self) -> u64 {
        self.mark += 1;
        self.mark
    }

    /// `Queue::update`: the entry written over its old self, if it is still queued. (Written
    /// whatever, an entry the other worker's replay had delivered came back to the queue.)
    fn rewrite(&mut self, id: u64, entry: Entry) {
        if let Some(old) = self.queue.get_mut(&id) {
            *old = entry;
        }
    }

    /// A worker killed with its own requests out: each may have reached the server or not; no
    /// answer comes back to anyone.
    fn kill(&mut self, memory: &mut Memory) {
        for (_, entry, body) in std::mem::take(&mut memory.out) {
            if self.rng.random_bool(0.5) {
                let fate = self.fate(&entry.idempotency_key);
                self.server.arrive(&entry, &body, fate, self.now);
            }
        }
        *memory = Memory::default();
    }

    /// Network-first with the network out: kept, on the latest waiting entry on its record
    /// where it may fold, else on its own.
    fn keep(&mut self, memory: &mut Memory, entry: Entry, body: Vec<u8>, record: String) {
        let target = memory.state.merge_target(&record);
        if target.is_none() {
            memory.commits.push((entry, body, record));
            return;
        }
        let mark = self.next_mark();
        let waiting = target.and_then(|id| Some((self.queue.get(&id)?, self.bodies.get(&id)?.clone())));
        let fold = memory.state.fold(mark, waiting, &entry, &body);
        let pushed = match fold {
            Fold::Separate => {
                let id = self.next_id;
                self.next_id += 1;
                self.queue.insert(id, Entry { id: Some(id), ..entry.clone() });
                self.bodies.insert(id, body.clone());
                Pushed::Added(id)
            }
            Fold::Into { entry: folded, body: merged } => {
                let id = target.unwrap_or_else(|| self.fail("a fold with no target"));
                self.queue.insert(id, Entry { id: Some(id), ..folded });
                self.bodies.insert(id, merged);
                Pushed::Merged(id)
            }
            Fold::Cancel => {
                let id = target.unwrap_or_else(|| self.fail("a cancel with no target"));
                self.queue.remove(&id);
                self.bodies.remove(&id);
                Pushed::Cancelled(id)
            }
        };
        memory.state.pushed(&record, pushed, mark);
        self.answered.push((record, entry.method, body));
    }

    /// The group commit's transaction: what waits in it is queued, in arrival order, and
    /// answered; or the transaction fails, and each page hears so.
    fn commit(&mut self, memory: &mut Memory) {
        if memory.commits.is_empty() {
            return;
        }
        let commits = std::mem::take(&mut memory.commits);
        if self.storage_fails() {
            return;
        }
        let mark = self.next_mark();
        for (entry, body, record) in commits {
            let id = self.next_id;
            self.next_id += 1;
            self.queue.insert(id, Entry { id: Some(id), ..entry.clone() });
            self.bodies.insert(id, body.clone());
            memory.state.pushed(&record, Pushed::Added(id), mark);
            self.answered.push((record, entry.method, body));
        }
    }

    /// A random change to a record: a whole body for a create or replacement, a merge patch
    /// (with deletions) otherwise.
    fn change(&mut self, method: &str, id: &str) -> Value {
        let whole = method != "PATCH";
        let mut body = serde_json::Map::new();
        if whole {
            body.insert("id".into(), Value::from(id));
        }
        for field in ["title", "done", "tags"] {
            match self.rng.random_range(0..4) {
                0 => {}
                1 if !whole => drop(body.insert(field.into(), Value::Null)),
                _ => drop(body.insert(field.into(), Value::from(self.rng.random_range(0..5)))),
            }
        }
        if self.rng.random_bool(0.3) {
            body.insert("meta".into(), serde_json::json!({ "a": self.rng.random_range(0..3), "b": if self.rng.random_bool(0.5) { Value::Null } else { Value::from(1) } }));
        }
        Value::Object(body)
    }

    fn storage_fails(&mut self) -> bool {
        let fails = self.rng.random_bool(self.storage_fault_rate);
        self.stats.storage_faults += u64::from(fails);
        fails
    }

    /// One request over the simulated network: what the worker learns of it.
    fn send(&mut self, entry: &Entry) -> (Attempt, Vec<u8>) {
        self.check_sendable(entry);
        let body = self.bodies_sent(entry);
        self.over_network(entry, &body)
    }

    /// A request with this body, from the moment it leaves: what the server does with it, and
    /// what the worker learns.
    fn over_network(&mut self, entry: &Entry, body: &[u8]) -> (Attempt, Vec<u8>) {
        if self.rng.random_bool(self.fail_rate) {
            return (Attempt::NetworkError("TypeError: Failed to fetch".into()), Vec::new());
        }
        let fate = self.fate(&entry.idempotency_key);
        let (status, retry_after) = self.server.arrive(entry, body, fate, self.now);
        if self.rng.random_bool(self.lose_rate) {
            return (Attempt::NetworkError("the connection was reset".into()), Vec::new());
        }
        (Attempt::Answered { status, retry_after }, b"{}".to_vec())
    }

    /// Rules every send keeps, whatever the faults.
    fn check_sendable(&self, entry: &Entry) {
        let key = &entry.idempotency_key;
        if let Some(at) = self.removed_at.get(key).filter(|_| !self.delivered_elsewhere.contains(key)) {
            self.fail(&format!("{key} was sent after its entry left the queue (at {at})"));
        }
        if self.now - entry.queued_at > self.config.max_retention_ms {
            self.fail(&format!("{key} was sent after its retention time"));
        }
    }

    fn send_batch(&mut self, entries: &[Entry]) -> BatchSent {
        for e in entries {
            self.check_sendable(e);
        }
        if self.rng.random_bool(self.fail_rate) {
            return BatchSent::NoAnswer("TypeError: Failed to fetch".into());
        }
        if !self.server.batches {
            return BatchSent::Answered { status: 404, retry_after: None, body: "{}".into() };
        }
        let mut results = Vec::new();
        for e in entries {
            let fate = self.fate(&e.idempotency_key);
            let (status, retry_after) = self.server.arrive(e, &self.bodies_sent(e), fate, self.now);
            let headers = retry_after.map(|r| vec![("Retry-After".to_owned(), r)]).unwrap_or_default();
            results.push(serde_json::json!({ "status": status, "headers": headers, "body": "{}" }));
            if !(200..300).contains(&status) {
                break;
            }
        }
        if self.rng.random_bool(self.lose_rate) {
            return BatchSent::NoAnswer("the connection was reset".into());
        }
        BatchSent::Answered { status: 200, retry_after: None, body: serde_json::json!({ "results": results }).to_string() }
    }

    /// The batch request the run made carries each entry, in order, with the body it was queued with.
    fn check_batch(&self, url: &str, payload: &str, entries: &[Entry]) {
        if !self.config.batch_url.as_deref().is_some_and(|path| url.ends_with(path)) {
            self.fail(&format!("a batch sent to {url}"));
        }
        let payload: Value = serde_json::from_str(payload).unwrap_or_else(|e| self.fail(&format!("an unreadable batch: {e}")));
        let requests = payload["requests"].as_array().map_or(&[][..], Vec::as_slice);
        let carried: Vec<(&str, &str)> = requests.iter().map(|r| (r["method"].as_str().unwrap_or_default(), r["body"].as_str().unwrap_or_default())).collect();
        let queued: Vec<(&str, String)> = entries.iter().map(|e| (e.method.as_str(), String::from_utf8(self.bodies_sent(e)).unwrap_or_default())).collect();
        if carried.len() != queued.len() || carried.iter().zip(&queued).any(|(c, q)| c.0 != q.0 || c.1 != q.1) {
            self.fail(&format!("the batch carries {carried:?}, not the entries {queued:?}"));
        }
    }

    fn killed(&mut self) -> bool {
        let killed = self.rng.random_bool(self.kill_rate);
        self.stats.kills += u64::from(killed);
        killed
    }

    /// Deletes entries from the queue in one transaction; `true` when that write failed.
    fn delete(&mut self, ids: &[u64]) -> bool {
        if ids.is_empty() {
            return false;
        }
        if self.storage_fails() {
            return true;
        }
        self.forget(ids);
        false
    }

    /// Takes these entries out of the queue, as part of a write that did not fail.
    fn forget(&mut self, ids: &[u64]) {
        for id in ids {
            if let Some(entry) = self.queue.remove(id) {
                self.removed_at.insert(entry.idempotency_key, self.now);
            }
        }
    }

    /// One replay run by a worker with `memory`, until it ends, is killed, or storage fails.
    fn run(&mut self, workers: &mut [Memory; 2], w: usize) -> End {
        let config = self.config.clone();
        let memory = &mut workers[w];
        self.replay_owed = false;
        let network_back = self.network_back || self.rng.random_bool(0.5);
        let mut drain = Drain::new(&config, ORIGIN, memory.state.batch_refused(), network_back);
        if !memory.state.drain_starts() {
            self.fail("a hold, though no server here refuses credentials");
        }
        let end = self.drive(&mut drain, workers, w);
        if let End::Finished(result) = &end {
            workers[w].state.drain_ends(result, self.now);
        }
        end
    }

    /// Carries out the run's commands, as the shell does, with faults, kills and (when the page
    /// writes) new mutations between them.
    fn drive(&mut self, drain: &mut Drain<'_>, workers: &mut [Memory; 2], w: usize) -> End {
        for _ in 0..100_000 {
            if self.killed() {
                return End::Killed;
            }
            // Either worker's page writes (during an update, both may intercept), and either
            // worker's queue-first requests come back.
            let other = if self.rng.random_bool(0.5) { w } else { 1 - w };
            if self.writing && self.rng.random_bool(0.2) {
                self.write(&mut workers[other]);
            }
            if self.rng.random_bool(0.3) {
                self.commit(&mut workers[other]);
            }
            if !workers[other].out.is_empty() && self.rng.random_bool(0.3) {
                let at = self.rng.random_range(0..workers[other].out.len());
                self.own_answer(&mut workers[other], at, other != w);
            }
            let memory = &mut workers[w];
            let Some(command) = drain.poll() else { self.fail("the run stalled: no command and no report owed") };
            match command {
                Command::ReadHead { limit, texts, remove } => {
                    // One transaction: the deletes and the read happen together, or neither does.
                    if self.storage_fails() {
                        return End::StorageFailed;
                    }
                    self.forget(&remove);
                    self.next_mark();
                    let heads = self
                        .queue
                        .iter()
                        .take(limit as usize)
                        .map(|(&id, entry)| {
                            let body = &self.bodies[&id];
                            let text = texts.then(|| String::from_utf8(body.clone()).ok()).flatten();
                            Head { id, record: Ok(entry.clone()), text, busy: memory.state.in_flight().contains(&id) }
                        })
                        .collect();
                    drain.window(heads, self.now);
                }
                Command::Remove(ids) => {
                    if self.delete(&ids) {
                        return End::StorageFailed;
                    }
                }
                Command::Update(entries) => {
                    if self.storage_fails() {
                        return End::StorageFailed;
                    }
                    // Another worker may have delivered it meanwhile (its own queue-first request).
                    for entry in entries {
                        let id = entry.id.unwrap_or_else(|| self.fail("an update without an id"));
                        self.rewrite(id, entry);
                    }
                }
                Command::Bury(letter) => {
                    if self.storage_fails() {
                        return End::StorageFailed;
                    }
                    if let Some(entry) = self.queue.remove(&letter.id) {
                        self.removed_at.insert(entry.idempotency_key, self.now);
                    }
                    self.dead.insert(letter.id, letter);
                }
                Command::Send(ids) => {
                    let entries: Vec<Entry> = ids.iter().map(|&id| drain.entry(id).cloned().unwrap_or_else(|| self.fail("a send of an entry not in the window"))).collect();
                    if let Some(id) = ids.iter().find(|id| memory.out.iter().any(|(out, ..)| out == *id)) {
                        self.fail(&format!("entry {id} was sent by a replay while its own request was out"));
                    }
                    if entries.len() > self.config.replay_concurrency.max(1) as usize {
                        self.fail(&format!("{} requests out at once, over replayConcurrency", entries.len()));
                    }
                    // The requests of a wave are out together: they leave at one time, and the
                    // answers are in some time later.
                    let mut results = Vec::new();
                    for entry in &entries {
                        results.push(self.send(entry));
                        if self.killed() {
                            return End::Killed;
                        }
                    }
                    self.now += self.rng.random_range(1.0..40.0);
                    for (id, (attempt, body)) in ids.into_iter().zip(results) {
                        let random = self.rng.random::<f64>();
                        drain.sent(id, attempt, &body, self.now, random);
                    }
                }
                Command::SendBatch { url, payload, ids } => {
                    let entries: Vec<Entry> = ids.iter().map(|&id| drain.entry(id).cloned().unwrap_or_else(|| self.fail("a batch of entries not in the window"))).collect();
                    self.check_batch(&url, &payload, &entries);
                    if let Some(id) = ids.iter().find(|id| memory.out.iter().any(|(out, ..)| out == *id)) {
                        self.fail(&format!("entry {id} was sent in a batch while its own request was out"));
                    }
                    self.stats.batches += 1;
                    let sent = self.send_batch(&entries);
                    self.now += self.rng.random_range(1.0..60.0);
                    if self.killed() {
                        return End::Killed;
                    }
                    let random = self.rng.random::<f64>();
                    drain.batch_sent(sent, self.now, random);
                }
                Command::RefuseBatches => memory.state.refuse_batches(),
                Command::Hold => self.fail("a hold, though no server here refuses credentials"),
                Command::Tell(_) | Command::Warn(_) => {}
                Command::Sleep(ms) => {
                    // A trigger that says the network may be back can end the wait early.
                    if self.rng.random_bool(0.3) {
                        self.now += ms * self.rng.random::<f64>();
                        self.stats.wakes += 1;
                        drain.network_may_be_back();
                    } else {
                        self.now += ms;
                    }
                }
                Command::Done(result) => return End::Finished(result),
            }
        }
        self.fail("a run went on for 100000 steps")
    }

    /// The outage: runs, kills and failing writes, by the two workers in turn.
    fn outage(&mut self, workers: &mut [Memory; 2]) {
        for _ in 0..self.rng.random_range(1..=12) {
            let w = self.rng.random_range(0..2);
            if self.writing {
                for _ in 0..self.rng.random_range(0..6) {
                    self.write(&mut workers[w]);
                    if self.rng.random_bool(0.5) {
                        self.commit(&mut workers[w]);
                    }
                }
            }
            if let End::Killed = self.run(workers, w) {
                self.kill(&mut workers[w]);
            }
            self.now += self.rng.random_range(0.0..5_000.0);
            // Queue-first requests out come back between runs too, from either worker.
            for memory in workers.iter_mut() {
                while !memory.out.is_empty() && self.rng.random_bool(0.5) {
                    let at = self.rng.random_range(0..memory.out.len());
                    self.own_answer(memory, at, false);
                }
            }
        }
    }

    /// The network is back: runs until one ends well with nothing left.
    fn recover(&mut self, workers: &mut [Memory; 2]) {
        (self.fail_rate, self.lose_rate, self.kill_rate, self.storage_fault_rate) = (0.0, 0.0, 0.0, 0.0);
        self.writing = false;
        for memory in workers.iter_mut() {
            self.commit(memory);
        }
        self.network_back = true;
        for _ in 0..500 {
            let w = self.rng.random_range(0..2);
            match self.run(workers, w) {
                End::Finished(Ok(_)) if self.queue.is_empty() => return,
                // The run left the rest to a queue-first request out (it replays after it).
                End::Finished(Ok(_)) if workers.iter().any(|m| !m.out.is_empty()) => {
                    for memory in workers.iter_mut() {
                        while !memory.out.is_empty() {
                            self.own_answer(memory, 0, false);
                        }
                    }
                }
                // A queue-first answer came while the run ended: it starts a replay of its own.
                End::Finished(Ok(_)) if std::mem::take(&mut self.replay_owed) => {}
                End::Finished(Ok(_)) => self.fail(&format!("a run ended well with {} entries left", self.queue.len())),
                End::Finished(Err(Error::Deferred(at))) => {
                    // With the network back, only the server's own pacing may make a run wait.
                    if !self.queue.values().any(|e| e.next_attempt_at == Some(at) && e.refusals > 0) {
                        let waiting: Vec<_> = self.queue.values().map(|e| (e.id, e.attempts, e.refusals, e.next_attempt_at.map(|t| t - self.now), e.last_status)).collect();
                        self.fail(&format!("with the network back a run waited for an entry that only met network failures: until {}, {waiting:?}", at - self.now));
                    }
                    self.stats.given_up += 1;
                    self.now = self.now.max(at);
                }
                End::Finished(Err(e)) => self.fail(&format!("with the network back a run failed: {e}")),
                End::Killed | End::StorageFailed => self.fail("a fault after the faults were lifted"),
            }
        }
        self.fail("the queue did not settle in 500 runs after the network came back")
    }

    fn check(&self) {
        // Every mutation is applied exactly once, or is a dead letter the rules call for, or
        // expired unsent.
        for (i, m) in self.mutations.iter().enumerate() {
            let id = i as u64 + 1;
            let key = &m.entry.idempotency_key;
            let applied = self.server.order.iter().filter(|k| *k == key).count();
            let dead = self.dead.get(&id);
            match (applied, dead) {
                (1, None) => {}
                (0, Some(letter)) => {
                    let refusals = letter.entry.as_ref().map_or(0, |e| e.refusals);
                    let allowed = match m.fate {
                        Fate::Refused => true,
                        Fate::Busy { n, .. } => n >= self.config.max_attempts && refusals == self.config.max_attempts,
                        Fate::Accepted => false,
                    };
                    if !allowed {
                        self.fail(&format!("{key} ({:?}) became a dead letter: {}", m.fate, letter.reason));
                    }
                }
                (0, None) if self.removed_at.get(key).is_some_and(|at| at - m.entry.queued_at > self.config.max_retention_ms) => {}
                (n, d) => self.fail(&format!("{key} ({:?}) was applied {n} times, dead letter: {}", m.fate, d.is_some())),
            }
        }
        // Order: strictly by queue position with one request at a time, else per record and URL.
        let position = |key: &String| self.mutations.iter().position(|m| &m.entry.idempotency_key == key).unwrap_or_default();
        let applied: Vec<usize> = self.server.order.iter().map(position).collect();
        let in_order = self.config.replay_concurrency <= 1 || self.config.batch_url.is_some() && self.server.batches;
        if in_order && !applied.windows(2).all(|w| w[0] < w[1]) {
            self.fail(&format!("applied out of queue order: {applied:?}"));
        }
        for lane in self.lanes() {
            let on_lane: Vec<usize> = applied.iter().copied().filter(|&p| self.on_lane(p, &lane)).collect();
            if !on_lane.windows(2).all(|w| w[0] < w[1]) {
                self.fail(&format!("lane {lane} applied out of order: {on_lane:?}"));
            }
        }
    }

    fn lanes(&self) -> Vec<String> {
        let mut lanes: Vec<String> = self.mutations.iter().flat_map(|m| [m.entry.url.clone()].into_iter().chain(m.entry.record.clone())).collect();
        lanes.sort();
        lanes.dedup();
        lanes
    }

    fn on_lane(&self, position: usize, lane: &str) -> bool {
        let e = &self.mutations[position].entry;
        e.url == lane || e.record.as_deref() == Some(lane)
    }
}

/// The page's writes during the outage: nothing is refused for good, nothing expires; every
/// mutation answered 202 must reach the records, as if applied once each, in order.
fn page_writing(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.config.max_retention_ms = Config::default().max_retention_ms;
    sim.queue.clear();
    sim.bodies.clear();
    sim.fates.clear();
    sim.mutations.clear();
    sim.next_id = 1;
    sim.writing = true;
    sim.queue_first = sim.rng.random_bool(0.3);
    sim
}

impl Sim {
    fn check_writes(&self) {
        if !self.dead.is_empty() {
            self.fail(&format!("{} dead letters, though nothing was refused for good", self.dead.len()));
        }
        let mut expected = BTreeMap::new();
        for (record, method, body) in &self.answered {
            apply(&mut expected, record, method, body);
        }
        if expected != self.server.records {
            self.fail(&format!("the server's records are not those the page wrote:\n  written {expected:?}\n  applied {:?}", self.server.records));
        }
    }
}

fn simulate(seed: u64, total: &mut Stats, writing: bool) {
    let mut sim = if writing { page_writing(seed) } else { Sim::new(seed) };
    let mut workers = [Memory::default(), Memory::default()];
    sim.outage(&mut workers);
    sim.recover(&mut workers);
    if writing {
        sim.check_writes();
    } else {
        sim.check();
    }
    let s = &sim.stats;
    total.mutations += sim.mutations.len() as u64 + sim.answered.len() as u64;
    total.applied += sim.server.order.len() as u64;
    total.resent_after_arrival += sim.server.arrivals.values().map(|&n| u64::from(n)).sum::<u64>() - sim.server.order.len() as u64;
    total.dead_letters += sim.dead.len() as u64;
    total.expired += (sim.mutations.len().saturating_sub(sim.server.order.len() + sim.dead.len())) as u64;
    total.folded += sim.answered.len().saturating_sub(sim.server.order.len()) as u64;
    total.kills += s.kills;
    total.storage_faults += s.storage_faults;
    total.batches += s.batches;
    total.given_up += s.given_up;
    total.wakes += s.wakes;
    total.own_sent += s.own_sent;
}

/// The seeds to run: `OFFLINE_SYNC_SIM_SEED` alone, or the first `OFFLINE_SYNC_SIM_SEEDS` (2000).
fn seeds() -> (std::ops::Range<u64>, bool) {
    if let Ok(seed) = std::env::var("OFFLINE_SYNC_SIM_SEED") {
        let seed: u64 = seed.parse().expect("OFFLINE_SYNC_SIM_SEED is a number");
        return (seed..seed + 1, true);
    }
    let seeds: u64 = std::env::var("OFFLINE_SYNC_SIM_SEEDS").map_or(2_000, |n| n.parse().expect("OFFLINE_SYNC_SIM_SEEDS is a number"));
    (0..seeds, false)
}

#[test]
fn every_queued_mutation_is_applied_once_in_order_whatever_fails_on_the_way() {
    let mut total = Stats::default();
    let (seeds, alone) = seeds();
    for seed in seeds.clone() {
        simulate(seed, &mut total, false);
    }
    println!("simulation, replay: {} seeds: {total:?}", seeds.end - seeds.start);
    // A simulation whose faults never happen proves nothing.
    if !alone {
        assert!(total.kills > 0 && total.storage_faults > 0 && total.resent_after_arrival > 0 && total.dead_letters > 0, "{total:?}");
        assert!(total.batches > 0 && total.expired > 0 && total.given_up > 0 && total.wakes > 0, "{total:?}");
    }
}

#[test]
fn what_the_page_writes_during_an_outage_reaches_the_records_as_written() {
    let mut total = Stats::default();
    let (seeds, alone) = seeds();
    for seed in seeds.clone() {
        simulate(seed, &mut total, true);
    }
    println!("simulation, writes during the outage: {} seeds: {total:?}", seeds.end - seeds.start);
    if !alone {
        assert!(total.kills > 0 && total.storage_faults > 0 && total.resent_after_arrival > 0 && total.folded > 0 && total.own_sent > 0, "{total:?}");
    }
}

/// What one seed of the server-down scenario did, summed over seeds.
#[derive(Debug, Default)]
struct LiveStats {
    sent: u64,
    probes: u64,
    kept: u64,
    failures: u64,
    aborted: u64,
    /// Bodies the queue cannot hold, sent while a probe was out.
    unstorable_tried: u64,
    /// Failed sends of bodies the queue cannot hold, answered 413.
    refused: u64,
    /// Mutations committed before they left (queue-first).
    queue_first: u64,
}

/// The page sends mutations 16 at a time while the server goes down and comes back at random and
/// some requests are aborted, each on its path as the core's `Mutation` gives it (`State::intercept`,
/// then `State::returned`): after a failure is heard only probes go, one at a time, and a mutation
/// is kept untried only while one is out; nothing is kept once an answer came back, and nothing
/// the queue cannot hold is kept at all: a failure of one is refused, a failure of any other kept
/// as sent. With queue-first, what fits is committed first and takes no part in probing.
fn live_while_the_server_goes_down(seed: u64, total: &mut LiveStats) {
    let fail = |what: String| -> ! { panic!("seed {seed} (OFFLINE_SYNC_SIM_SEED={seed} repeats it): {what}") };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut state = State::default();
    let queue_first = rng.random_bool(0.2);
    let mut up = true;
    // (time back, the mutation, whether it meets the server up, whether the queue may hold it)
    let mut out: Vec<(f64, intercept::Mutation, bool, bool)> = Vec::new();
    let mut now = 0.0;
    // What the worker last heard: `Some(answered)`.
    let mut last: Option<bool> = None;
    for _ in 0..rng.random_range(50..400) {
        if rng.random_bool(0.05) {
            up = !up;
        }
        if out.len() < 16 && (out.is_empty() || rng.random_bool(0.5)) {
            // Now and then a body over `maxBodyBytes`, which the queue cannot hold.
            let unstorable = rng.random_bool(0.05);
            let mutation = state.intercept(queue_first, !unstorable, true);
            let step = mutation.first();
            let probe_out = out.iter().any(|(_, m, ..)| m.live() == Some(Live::Probe));
            match (mutation.live(), step, last) {
                (None, First::QueueFirst { .. }, _) if queue_first && !unstorable => {
                    total.queue_first += 1;
                    continue;
                }
                (None, ..) | (_, First::QueueFirst { .. }, _) => fail(format!("{mutation:?} is queue-first though {}", if queue_first { "too big" } else { "not asked for" })),
                (Some(Live::Keep), _, _) if unstorable => fail("a mutation the queue cannot hold kept untried".into()),
                (Some(Live::Keep), _, Some(true) | None) => fail("a mutation kept untried though the last request was answered".into()),
                (Some(Live::Send), _, Some(false)) if !unstorable => fail("a mutation sent as if reachable though the last request met a failure".into()),
                (Some(Live::Probe), ..) if probe_out => fail("two probes out at once".into()),
                (Some(Live::Keep), ..) if out.is_empty() => fail("kept untried with nothing out that could find the server back".into()),
                (Some(Live::Offline), ..) => fail("kept as offline though the browser is online".into()),
                (Some(Live::Keep), First::Undelivered(Undelivered::Keep { attempts: 0 }), _) => total.kept += 1,
                (Some(Live::Keep), ..) => fail(format!("a mutation kept untried goes on to {step:?}")),
                (Some(live), First::Send, _) => {
                    // Counted only where one that fits would have been kept: the last heard was a failure.
                    total.unstorable_tried += u64::from(unstorable && probe_out && last == Some(false));
                    *if live == Live::Probe { &mut total.probes } else { &mut total.sent } += 1;
                    out.push((now + rng.random_range(1.0..50.0), mutation, up, !unstorable));
                }
                (Some(_), ..) => fail(format!("a mutation tried goes on to {step:?}")),
            }
        } else if let Some(i) = (0..out.len()).min_by(|&a, &b| out[a].0.total_cmp(&out[b].0)) {
            let (at, mutation, reached, fits) = out.swap_remove(i);
            now = at;
            let (returned, answered) = if rng.random_bool(0.05) {
                total.aborted += 1;
                (Returned::<(), ()>::Aborted, None)
            } else if reached && up {
                (Returned::Answered(()), Some(true))
            } else {
                total.failures += 1;
                (Returned::Failed(()), Some(false))
            };
            match (returned, state.returned(&mutation, returned), fits) {
                (Returned::Answered(()), Then::Deliver(()), _) | (Returned::Aborted, Then::Abort, _) | (Returned::Failed(()), Then::Undelivered(Undelivered::Keep { attempts: 1 }, ()), true) => {}
                (Returned::Failed(()), Then::Undelivered(Undelivered::Refuse, ()), false) => total.refused += 1,
                (returned, step, _) => fail(format!("{mutation:?}, {returned:?}, goes on to {step:?}")),
            }
            last = answered.or(last);
        }
    }
}

#[test]
fn while_the_server_is_down_one_probe_goes_at_a_time_and_an_answer_ends_it() {
    let mut total = LiveStats::default();
    let (seeds, alone) = seeds();
    for seed in seeds.clone() {
        live_while_the_server_goes_down(seed, &mut total);
    }
    println!("simulation, live mutations while the server goes down: {} seeds: {total:?}", seeds.end - seeds.start);
    if !alone {
        assert!(total.sent > 0 && total.probes > 0 && total.kept > 0 && total.failures > 0 && total.aborted > 0 && total.unstorable_tried > 0 && total.refused > 0 && total.queue_first > 0, "{total:?}");
    }
}
