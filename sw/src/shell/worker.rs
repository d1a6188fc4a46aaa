//! The one live worker: its options, its open queue and what it knows about the last replay.

use super::group_commit::GroupCommit;
use super::queue::{Queue, DB_NAME};
use super::{clients, js, net};
use crate::config::Config;
use crate::error::Error;
use crate::protocol::{Event, Status};
use crate::state::State;
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use std::cell::RefCell;
use std::rc::Rc;

pub struct Worker {
    pub config: Config,
    pub origin: String,
    queue: RefCell<Option<Rc<Queue>>>,
    /// What the worker knows between events; every decision on it is `State`'s.
    pub state: RefCell<State>,
    /// The replay under way, which later triggers join.
    pub replay: RefCell<Option<Promise>>,
    pub commits: Rc<GroupCommit>,
    /// Who waits for the rounds of news under way to end.
    news_waiters: RefCell<Vec<Function>>,
    /// Ends the replay's wait in place early (`wake`).
    waker: RefCell<Option<Function>>,
}

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
            state: RefCell::new(State::default()),
            replay: RefCell::new(None),
            commits: Rc::new(GroupCommit::default()),
            news_waiters: RefCell::new(Vec::new()),
            waker: RefCell::new(None),
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

    /// Waits `ms`, or less if [`Worker::wake`] is called meanwhile: `true` when woken.
    pub async fn sleep(&self, ms: f64) -> bool {
        let timer = Promise::new(&mut |resolve, _| {
            let ms = ms.clamp(0.0, i32::MAX as f64) as i32;
            let timeout = js::scope().set_timeout_with_callback_and_timeout_and_arguments_1(&resolve, ms, &JsValue::FALSE);
            if timeout.is_err() {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::FALSE);
            }
            *self.waker.borrow_mut() = Some(resolve);
        });
        let woken = JsFuture::from(timer).await.is_ok_and(|v| v.is_truthy());
        self.waker.borrow_mut().take();
        woken
    }

    /// Ends the replay's wait early, if it waits.
    pub fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(resolve) = waker {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::TRUE);
        }
    }

    /// The queue, opened on first use and kept open until another context asks it to close.
    pub async fn queue(&self) -> Result<Rc<Queue>, Error> {
        if let Some(queue) = self.open_queue() {
            return Ok(queue);
        }
        let queue = Rc::new(Queue::open(DB_NAME).await?);
        self.state.borrow_mut().queue_opened();
        *self.queue.borrow_mut() = Some(queue.clone());
        Ok(queue)
    }

    /// The queue if it is open now (no waiting for IndexedDB).
    pub fn open_queue(&self) -> Option<Rc<Queue>> {
        self.queue.borrow().clone().filter(|q| !q.is_closed())
    }

    pub async fn status(&self) -> Result<Status, Error> {
        let (pending, dead_letters) = self.queue().await?.counts().await?;
        Ok(self.state.borrow().status(pending, dead_letters))
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
        if self.state.borrow_mut().tell(events) {
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
        if !self.state.borrow().telling() {
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

/// Rounds of news until none is owed: each sends what was told since the last, then one status,
/// and the next waits as `State::round_sent` says.
async fn send_news(worker: Rc<Worker>) {
    loop {
        let round = worker.state.borrow_mut().next_round();
        let Some(mut round) = round else { break };
        let started = js::now();
        round.push(match worker.status().await {
            Ok(status) => Event::Status(status),
            Err(e) => Event::Error { message: format!("the status could not be read: {e}") },
        });
        clients::broadcast(&round).await;
        let wait = worker.state.borrow().round_sent(js::now() - started);
        if let Some(ms) = wait {
            net::sleep(ms).await;
        }
    }
    for sent in std::mem::take(&mut *worker.news_waiters.borrow_mut()) {
        let _ = sent.call0(&JsValue::NULL);
    }
}
