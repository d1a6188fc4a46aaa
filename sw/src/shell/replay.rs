//! Replaying the queue: one run at a time (across workers too), in queue order on every lane
//! (`lanes`: strictly in order unless `replayConcurrency` allows more), each entry settled by
//! `outcome`.

use super::queue::{Found, Queue, Stored};
use super::worker::Worker;
use super::{join, js, net};
use crate::batch;
use crate::dead_letter::{DeadLetter, ANSWER_LIMIT};
use crate::error::Error;
use crate::lanes::{self, Candidate, Plan};
use crate::outcome::{settle, Attempt, Next};
use crate::protocol::{bounded_text, Event, REPLAY_BODY_LIMIT};
use js_sys::{Function, Promise};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// The Web Lock that keeps two workers (an old one and its update) from replaying at once.
const LOCK: &str = "offline-sync:replay";
/// The longest a replay waits in place for an entry's next attempt; a longer wait ends it.
const MAX_WAIT_MS: f64 = 30_000.0;
/// Network failures in a row after which the network is taken to be down and the replay ends.
const NETWORK_FAILURES_TO_STOP: u32 = 3;

/// Starts a replay, or joins the one under way (which then runs once more before it settles).
/// The promise rejects when the replay could not finish, so a `sync` event is retried later.
pub fn trigger(worker: &Rc<Worker>) -> Promise {
    if let Some(running) = worker.replay.borrow().clone() {
        worker.rerun.set(true);
        return running;
    }
    let w = worker.clone();
    let run_all = move || {
        future_to_promise(async move {
            let result = loop {
                w.rerun.set(false);
                let result = run(&w).await;
                if result.is_err() || !w.rerun.get() {
                    break result;
                }
            };
            *w.replay.borrow_mut() = None;
            result.map(|()| JsValue::UNDEFINED).map_err(JsValue::from)
        })
    };
    let promise = with_lock(run_all);
    *worker.replay.borrow_mut() = Some(promise.clone());
    promise
}

/// Runs `work` while holding the replay Web Lock; where the browser has no Web Locks, the
/// in-worker guard in `trigger` is all there is.
fn with_lock(work: impl FnOnce() -> Promise + 'static) -> Promise {
    let locks = js::get(&js::get(&js::scope(), "navigator"), "locks");
    let request = js::get(&locks, "request");
    let Some(request) = request.dyn_ref::<Function>() else { return work() };
    let callback = Closure::once_into_js(move |_lock: JsValue| work());
    match request.call2(&locks, &JsValue::from_str(LOCK), &callback) {
        Ok(promise) => Promise::resolve(&promise),
        Err(e) => Promise::reject(&e),
    }
}

/// Runs a replay and waits for it, for callers that only need to know it ended.
pub async fn run_to_end(worker: &Rc<Worker>) {
    let _ = JsFuture::from(trigger(worker)).await;
}

async fn run(worker: &Worker) -> Result<(), Error> {
    let queue = worker.queue().await?;
    if worker.held.get() {
        return Ok(());
    }
    worker.syncing.set(true);
    worker.broadcast_status();
    let result = drain(worker, &queue).await;
    worker.syncing.set(false);
    match &result {
        Ok(last_error) => {
            worker.last_sync_at.set(Some(js::now()));
            *worker.last_error.borrow_mut() = last_error.clone();
        }
        Err(e) => *worker.last_error.borrow_mut() = Some(e.to_string()),
    }
    worker.broadcast_status();
    // Within the `sync` event's lifetime: the pages hear how it ended before the browser may stop us.
    worker.news_sent().await;
    result.map(drop)
}

/// What a replay has seen so far, shared by the requests it has out at the same time.
#[derive(Default)]
struct Progress {
    /// The last problem seen, if any.
    last_error: RefCell<Option<String>>,
    /// Network failures in a row.
    network_failures: Cell<u32>,
}

/// Sends entries in waves until the queue is empty or something makes it stop: each wave reads
/// the head of the queue and sends what `lanes::plan` allows (with a batch endpoint, the head and
/// the ready entries after it in one request); `Ok` holds the last problem seen, if any.
async fn drain(worker: &Worker, queue: &Queue) -> Result<Option<String>, Error> {
    let progress = Progress::default();
    while !worker.held.get() {
        let batching = worker.config.batch_url.is_some() && !worker.batch_refused.get();
        let concurrency = if batching { 1 } else { worker.config.replay_concurrency };
        let window = match (batching, concurrency) {
            (true, _) => worker.config.batch_size,
            (false, 1) => 1,
            (false, n) => n.saturating_mul(4),
        };
        let head = usable(worker, queue, queue.next_many(None, window).await?).await?;
        let Some(head) = head else { continue };
        if head.is_empty() {
            break;
        }
        let now = js::now();
        let candidates: Vec<Candidate<'_>> = head
            .iter()
            .map(|stored| Candidate {
                lanes: lanes::lanes(stored.entry.record.as_deref(), &stored.entry.url, concurrency),
                ready_at: stored.entry.next_attempt_at,
                busy: worker.in_flight.borrow().contains(&stored.entry.id.unwrap_or_default()),
            })
            .collect();
        match lanes::plan(&candidates, concurrency as usize, now) {
            // Every lane waits for a request already out (queue-first), which replays the rest after it.
            Plan::Idle => break,
            Plan::WaitUntil(at) if at - now > MAX_WAIT_MS => return Err(Error::Deferred(at)),
            Plan::WaitUntil(at) => net::sleep(at - now).await,
            Plan::Send(_) if batching => match gather(worker, head, now) {
                Gathered::Alone(stored) => send_one(worker, queue, stored, &progress).await?,
                Gathered::Batch(items) => send_batch(worker, queue, items, &progress).await?,
            },
            Plan::Send(picked) => {
                let mut head: Vec<Option<Stored>> = head.into_iter().map(Some).collect();
                let wave = picked.iter().filter_map(|&i| head[i].take()).map(|stored| send_one(worker, queue, stored, &progress));
                join::all(wave.collect()).await.into_iter().collect::<Result<(), Error>>()?;
            }
        }
    }
    Ok(progress.last_error.take())
}

/// The readable, unexpired entries of a window; records that cannot be replayed go to the dead
/// letters and expired entries are dropped, each told to the pages. `None` when any left, so that
/// the caller reads the head again.
async fn usable(worker: &Worker, queue: &Queue, window: Vec<(u64, Found)>) -> Result<Option<Vec<Stored>>, Error> {
    let mut usable = Vec::with_capacity(window.len());
    let mut cleared = false;
    for (id, found) in window {
        match found {
            Found::Unreadable(bad, raw) => {
                js::warn(&format!("offline-sync: queue record {id} moved to dead letters: {}", bad.0));
                let letter = DeadLetter { id, reason: bad.0, status: None, answer: None, dead_at: js::now(), entry: None };
                queue.bury(&letter, None, Some(&raw)).await?;
                announce_dead_letter(worker, &letter);
                cleared = true;
            }
            Found::Entry(stored) if stored.entry.is_expired(js::now(), worker.config.max_retention_ms) => {
                queue.remove(id).await?;
                let e = &stored.entry;
                worker.tell(Event::Expired { id, method: e.method.clone(), url: e.url.clone(), queued_at: e.queued_at });
                cleared = true;
            }
            Found::Entry(stored) => usable.push(stored),
        }
    }
    Ok((!cleared).then_some(usable))
}

enum Gathered {
    Alone(Stored),
    /// Entries with their bodies as text, in queue order.
    Batch(Vec<(Stored, String)>),
}

async fn send_one(worker: &Worker, queue: &Queue, mut stored: Stored, progress: &Progress) -> Result<(), Error> {
    let request = net::from_entry(&stored.entry, stored.body.as_ref(), &worker.replay_headers.borrow())?;
    let (attempt, body) = match net::send(&request).await {
        Ok(response) => {
            let retry_after = net::header(&response, "retry-after");
            let body = net::body_prefix(&response, REPLAY_BODY_LIMIT.max(ANSWER_LIMIT)).await;
            (Attempt::Answered { status: response.status(), retry_after }, body)
        }
        Err(Error::Network(reason)) => (Attempt::NetworkError(reason), Vec::new()),
        Err(other) => (Attempt::NetworkError(other.to_string()), Vec::new()),
    };
    conclude(worker, queue, &mut stored, &attempt, &body, progress).await
}

/// Applies what one attempt taught about an entry: remove it, note it and wait, hold the queue,
/// or move it to the dead letters; and tells the pages.
async fn conclude(worker: &Worker, queue: &Queue, stored: &mut Stored, attempt: &Attempt, body: &[u8], progress: &Progress) -> Result<(), Error> {
    let id = stored.entry.id.unwrap_or_default();
    let answered = matches!(attempt, Attempt::Answered { .. });
    progress.network_failures.set(if answered { 0 } else { progress.network_failures.get() + 1 });
    match settle(&mut stored.entry, attempt, worker.config.max_attempts, js::now(), js_sys::Math::random()) {
        Next::Remove => {
            queue.remove(id).await?;
            let status = stored.entry.last_status.unwrap_or_default();
            worker.tell(Event::replayed(&stored.entry, status, body));
        }
        Next::RetryAt(_) => {
            // The same entry goes again once its time comes: nothing on its lanes overtakes it.
            queue.update(stored).await?;
            *progress.last_error.borrow_mut() = Some(problem(stored));
            if answered {
                worker.tell(Event::failed(&stored.entry));
            } else if progress.network_failures.get() >= NETWORK_FAILURES_TO_STOP {
                return Err(Error::Network(stored.entry.last_error.clone().unwrap_or_default()));
            }
        }
        Next::Hold => {
            queue.update(stored).await?;
            worker.held.set(true);
            *progress.last_error.borrow_mut() = Some(problem(stored));
            let e = &stored.entry;
            let status = e.last_status.unwrap_or_default();
            worker.tell(Event::AuthRequired { id, method: e.method.clone(), url: e.url.clone(), status });
        }
        Next::DeadLetter(reason) => {
            *progress.last_error.borrow_mut() = Some(problem(stored));
            let answer = answered.then(|| bounded_text(body, ANSWER_LIMIT).0);
            let letter =
                DeadLetter { id, reason, status: stored.entry.last_status, answer, dead_at: js::now(), entry: Some(stored.entry.clone()) };
            queue.bury(&letter, stored.body.as_ref(), None).await?;
            announce_dead_letter(worker, &letter);
        }
    }
    Ok(())
}

/// With `batchUrl` set: the head of the queue (ready) and the ready entries right after it that
/// can travel together.
fn gather(worker: &Worker, head: Vec<Stored>, now: f64) -> Gathered {
    let text = |stored: &Stored| -> Option<String> {
        let bytes = stored.body.as_ref().map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default();
        batch::text_body(&stored.entry, &worker.origin, &bytes).map(str::to_owned)
    };
    let mut head = head.into_iter();
    let Some(first) = head.next() else { unreachable!("the planner sent the head of a non-empty queue") };
    let Some(first_text) = text(&first) else { return Gathered::Alone(first) };
    let mut bytes = first_text.len();
    let mut items = vec![(first, first_text)];
    for next in head {
        let ready = next.entry.next_attempt_at.is_none_or(|at| at <= now)
            && !worker.in_flight.borrow().contains(&next.entry.id.unwrap_or_default());
        let Some(body) = text(&next).filter(|_| ready) else { break };
        if bytes + body.len() > batch::MAX_BYTES {
            break;
        }
        bytes += body.len();
        items.push((next, body));
    }
    if items.len() == 1 {
        return Gathered::Alone(items.remove(0).0);
    }
    Gathered::Batch(items)
}

/// Sends a batch and concludes each item from its own answer, in order.
async fn send_batch(
    worker: &Worker,
    queue: &Queue,
    mut items: Vec<(Stored, String)>,
    progress: &Progress,
) -> Result<(), Error> {
    let url = format!("{}{}", worker.origin, worker.config.batch_url.as_deref().unwrap_or_default());
    let pairs: Vec<(&crate::entry::Entry, &str)> = items.iter().map(|(s, t)| (&s.entry, t.as_str())).collect();
    let payload = batch::encode(&pairs, &worker.origin);
    let headers = web_sys::Headers::new().map_err(js::browser)?;
    headers.set("content-type", "application/json").map_err(js::browser)?;
    for (name, value) in worker.replay_headers.borrow().iter() {
        headers.set(name, value).map_err(js::browser)?;
    }
    let body = js_sys::Uint8Array::from(payload.as_bytes()).buffer();
    let request = net::build("POST", &url, &headers, Some(&body), Some("same-origin"))?;
    let answers = match net::send(&request).await {
        Err(e) => {
            // Any item may have arrived: each counts as sent, and the first waits its back-off.
            let attempt = Attempt::NetworkError(match e {
                Error::Network(reason) => reason,
                other => other.to_string(),
            });
            let (first, rest) = items.split_first_mut().unwrap_or_else(|| unreachable!("a batch has items"));
            for (stored, _) in rest {
                stored.entry.attempts += 1;
                queue.update(stored).await?;
            }
            return conclude(worker, queue, &mut first.0, &attempt, &[], progress).await;
        }
        Ok(response) if matches!(response.status(), 400 | 404 | 405 | 413 | 501) => {
            // This server takes no batches (or not these): one by one from now on.
            js::warn(&format!("offline-sync: {url} answered {}; replaying one request at a time", response.status()));
            worker.batch_refused.set(true);
            return Ok(());
        }
        Ok(response) if !(200..300).contains(&response.status()) => {
            // Busy or failing as a whole (503, 429…): nothing was applied; the first entry waits.
            let attempt = Attempt::Answered { status: response.status(), retry_after: net::header(&response, "retry-after") };
            let first = &mut items[0].0;
            return conclude(worker, queue, first, &attempt, &[], progress).await;
        }
        Ok(response) => {
            let text = String::from_utf8_lossy(&net::body_prefix(&response, 64 * 1024 * 1024).await).into_owned();
            batch::decode(&text, items.len()).map_err(Error::Browser)?
        }
    };
    // The delivered prefix is removed in one transaction and announced in one round.
    let delivered = answers.iter().take_while(|a| (200..300).contains(&a.status)).count();
    let mut events = Vec::with_capacity(delivered + 1);
    let mut ids = Vec::with_capacity(delivered);
    for ((stored, _), answer) in items.iter_mut().zip(&answers).take(delivered) {
        let attempt = Attempt::Answered { status: answer.status, retry_after: None };
        settle(&mut stored.entry, &attempt, worker.config.max_attempts, js::now(), 0.0);
        ids.push(stored.entry.id.unwrap_or_default());
        events.push(Event::replayed(&stored.entry, answer.status, answer.body.as_bytes()));
    }
    if !ids.is_empty() {
        queue.remove_all(&ids).await?;
        progress.network_failures.set(0);
        worker.tell_all(events);
    }
    // The first item not delivered (if any) is settled as if sent alone; the server stopped there.
    if let (Some((stored, _)), Some(answer)) = (items.get_mut(delivered), answers.get(delivered)) {
        let attempt = Attempt::Answered { status: answer.status, retry_after: answer.retry_after() };
        return conclude(worker, queue, stored, &attempt, answer.body.as_bytes(), progress).await;
    }
    Ok(())
}

fn problem(stored: &Stored) -> String {
    let e = &stored.entry;
    format!("{} for {} {}", e.last_error.as_deref().unwrap_or("failure"), e.method, e.url)
}

fn announce_dead_letter(worker: &Worker, letter: &DeadLetter) {
    let view = letter.view();
    let event = Event::DeadLettered { id: view.id, method: view.method, url: view.url, status: view.status, reason: view.reason };
    worker.tell(event);
}

/// Whether this browser has Background Sync; where it has not, the worker replays on its own.
pub fn has_background_sync() -> bool {
    let sync = js::get(&js::scope().registration(), "sync");
    !sync.is_undefined() && !sync.is_null()
}

/// Asks the browser for a `sync` event once the network is back (once until it fires).
pub async fn request_background_sync(worker: &Worker) {
    if worker.sync_requested.get() {
        return;
    }
    let sync = js::get(&js::scope().registration(), "sync");
    let register = js::get(&sync, "register");
    let Some(register) = register.dyn_ref::<Function>() else { return };
    // Marked before the browser answers, so that the mutations of a burst ask once between them.
    worker.sync_requested.set(true);
    let registered = match register.call1(&sync, &JsValue::from_str(&worker.config.sync_tag)) {
        Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = registered {
        worker.sync_requested.set(false);
        js::warn(&format!("offline-sync: Background Sync registration failed: {}", js::describe(&e)));
    }
}

/// A mutation just reached the server, so the network is back: deliver what was waiting, off the
/// answer's path. The queue is read only when something may have been added since it was last seen
/// empty, so a stream of online mutations costs no storage work, nor even a task.
pub fn after_online_answer(worker: Rc<Worker>) {
    if worker.open_queue().is_some_and(|queue| !queue.may_hold_entries()) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let waiting = match worker.queue().await {
            Ok(queue) if queue.may_hold_entries() => queue.waiting().await.unwrap_or_default(),
            _ => 0,
        };
        if waiting > 0 {
            run_to_end(&worker).await;
        }
    });
}
