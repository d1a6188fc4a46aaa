//! The one live worker: its options, its open queue and what it knows about the last replay.

use super::group_commit::GroupCommit;
use super::queue::{Queue, DB_NAME};
use super::{clients, js, net};
use crate::config::Config;
use crate::error::Error;
use crate::protocol::{Event, Status};
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub struct Worker {
    pub config: Config,
    pub origin: String,
    queue: RefCell<Option<Rc<Queue>>>,
    pub syncing: Cell<bool>,
    pub last_sync_at: Cell<Option<f64>>,
    pub last_error: RefCell<Option<String>>,
    /// The replay under way, which later triggers join instead of starting another.
    pub replay: RefCell<Option<Promise>>,
    /// A trigger arrived during the replay: run once more before settling.
    pub rerun: Cell<bool>,
    /// The server refused the credentials: no replay until the page sets fresh headers.
    pub held: Cell<bool>,
    /// Headers the page handed over for replays (e.g. `Authorization`); never written to storage.
    pub replay_headers: RefCell<Vec<(String, String)>>,
    /// (record key, queued entry) in queue order, read from the queue on first need. A plain list:
    /// a hash map's code costs more wasm than the scans it saves.
    pub records: RefCell<Option<Vec<(String, u64)>>>,
    /// Sends saved by coalescing since this worker started.
    pub coalesced: Cell<u32>,
    /// Queue-first entries whose own request is under way: a replay must not send them too.
    pub in_flight: RefCell<Vec<u64>>,
    /// A Background Sync is registered and has not fired yet: no need to ask again per entry.
    pub sync_requested: Cell<bool>,
    pub commits: Rc<GroupCommit>,
    /// The server refused a batch: replay one request at a time for the rest of this worker's life.
    pub batch_refused: Cell<bool>,
    /// Events told while a round to the pages is under way: they go in the next round.
    outbox: RefCell<Vec<Event>>,
    /// A round of news is under way; a status is owed after the events told since the last one.
    telling: Cell<bool>,
    status_owed: Cell<bool>,
    /// Who waits for the rounds under way to end.
    news_waiters: RefCell<Vec<Function>>,
}

/// The shortest time between two rounds of news in a burst.
const NEWS_INTERVAL_MS: f64 = 50.0;

thread_local! {
    /// Where `start()` keeps the worker.
    static WORKER: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
}

impl Worker {
    pub fn install(config: Config, origin: String) -> Rc<Worker> {
        let worker = Rc::new(Worker {
            config,
            origin,
            queue: RefCell::new(None),
            syncing: Cell::new(false),
            last_sync_at: Cell::new(None),
            last_error: RefCell::new(None),
            replay: RefCell::new(None),
            rerun: Cell::new(false),
            held: Cell::new(false),
            replay_headers: RefCell::new(Vec::new()),
            records: RefCell::new(None),
            coalesced: Cell::new(0),
            in_flight: RefCell::new(Vec::new()),
            sync_requested: Cell::new(false),
            commits: Rc::new(GroupCommit::default()),
            batch_refused: Cell::new(false),
            outbox: RefCell::new(Vec::new()),
            telling: Cell::new(false),
            status_owed: Cell::new(false),
            news_waiters: RefCell::new(Vec::new()),
        });
        WORKER.with(|slot| *slot.borrow_mut() = Some(worker.clone()));
        worker
    }

    /// The worker `start()` made, or one with default options if the loader never called it.
    pub fn current() -> Rc<Worker> {
        // Read in a statement of its own: the borrow must end before `install` writes the slot.
        let installed = WORKER.with(|slot| slot.borrow().clone());
        installed.unwrap_or_else(|| Worker::install(Config::default(), js::scope().location().origin()))
    }

    /// The queue, opened on first use and kept open until another context asks it to close.
    pub async fn queue(&self) -> Result<Rc<Queue>, Error> {
        if let Some(queue) = self.open_queue() {
            return Ok(queue);
        }
        let queue = Rc::new(Queue::open(DB_NAME).await?);
        *self.queue.borrow_mut() = Some(queue.clone());
        Ok(queue)
    }

    /// The queue if it is open now (no waiting for IndexedDB).
    pub fn open_queue(&self) -> Option<Rc<Queue>> {
        self.queue.borrow().clone().filter(|q| !q.is_closed())
    }

    pub async fn status(&self) -> Status {
        let (pending, dead_letters) = match self.queue().await {
            Ok(queue) => queue.counts().await.unwrap_or_default(),
            Err(_) => (0, 0),
        };
        Status {
            pending,
            syncing: self.syncing.get(),
            last_sync_at: self.last_sync_at.get(),
            last_error: self.last_error.borrow().clone(),
            dead_letters,
            auth_required: self.held.get(),
            coalesced: self.coalesced.get(),
        }
    }

    /// The latest queued entry on `record`, from the map (read from the queue on first need).
    pub async fn latest_on(&self, queue: &Queue, record: &str) -> Option<u64> {
        if self.records.borrow().is_none() {
            *self.records.borrow_mut() = Some(queue.records().await.unwrap_or_default());
        }
        // Later entries come later in the list: the last one on the record is its latest.
        let records = self.records.borrow();
        records.as_ref()?.iter().rev().find(|(key, _)| key == record).map(|(_, id)| *id)
    }

    /// Tells every page what happened to an entry, followed by the status it leads to.
    pub fn tell(&self, event: Event) {
        self.tell_all(vec![event]);
    }

    /// Tells every page these events, in order, then the status they lead to, in the next round
    /// of news. Nothing waits for it: news is sent beside the work, never in its way.
    pub fn tell_all(&self, events: Vec<Event>) {
        if self.config.debug {
            for event in &events {
                web_sys::console::log_1(&format!("offline-sync: {}", event.describe()).into());
            }
        }
        self.outbox.borrow_mut().extend(events);
        self.status_owed.set(true);
        if !self.telling.replace(true) {
            wasm_bindgen_futures::spawn_local(send_news(Worker::current()));
        }
    }

    /// The status, in the next round of news.
    pub fn broadcast_status(&self) {
        self.tell_all(Vec::new());
    }

    /// Resolves once everything told so far has been sent (before answering a page that asked
    /// for a replay, say, so that its news arrives first).
    pub async fn news_sent(&self) {
        if !self.telling.get() {
            return;
        }
        let sent = Promise::new(&mut |resolve, _| self.news_waiters.borrow_mut().push(resolve));
        let _ = JsFuture::from(sent).await;
    }

    /// A decision worth a line in the console with `debug` on.
    pub fn debug(&self, line: impl FnOnce() -> String) {
        if self.config.debug {
            web_sys::console::log_1(&format!("offline-sync: {}", line()).into());
        }
    }

}

/// Rounds of news until none is owed: each sends what was told since the last, then one status.
/// In a burst (16 mutations queued at once, a replay of a thousand) rounds come at most every
/// `NEWS_INTERVAL_MS`, so the pages get every event without a status read and a client listing
/// per event.
async fn send_news(worker: Rc<Worker>) {
    while worker.status_owed.replace(false) {
        let started = js::now();
        let mut round = std::mem::take(&mut *worker.outbox.borrow_mut());
        round.push(Event::Status(worker.status().await));
        clients::broadcast(&round).await;
        let rest = NEWS_INTERVAL_MS - (js::now() - started);
        if rest > 0.0 && worker.status_owed.get() {
            net::sleep(rest).await;
        }
    }
    worker.telling.set(false);
    for sent in std::mem::take(&mut *worker.news_waiters.borrow_mut()) {
        let _ = sent.call0(&JsValue::NULL);
    }
}
