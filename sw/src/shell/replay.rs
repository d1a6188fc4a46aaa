//! Replaying the queue: one run at a time (across workers too), strictly in queue order, each
//! entry settled by `outcome`.

use super::queue::{Found, Queue, Stored};
use super::worker::Worker;
use super::{js, net};
use crate::batch;
use crate::dead_letter::{DeadLetter, ANSWER_LIMIT};
use crate::error::Error;
use crate::outcome::{settle, Attempt, Next};
use crate::protocol::{bounded_text, Event, REPLAY_BODY_LIMIT};
use js_sys::{Function, Promise};
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

/// Sends every entry in order until the queue is empty or something makes it stop;
/// `Ok` holds the last problem seen, if any.
async fn drain(worker: &Worker, queue: &Queue) -> Result<Option<String>, Error> {
    let mut after = None;
    let mut last_error = None;
    let mut network_failures = 0;
    while !worker.held.get() {
        let Some((id, found)) = queue.next_after(after).await? else { break };
        if worker.in_flight.borrow().contains(&id) {
            // Its own request is under way (queue-first); that request replays the rest after it.
            break;
        }
        let stored = match found {
            Found::Entry(stored) => stored,
            Found::Unreadable(bad, raw) => {
                js::warn(&format!("offline-sync: queue record {id} moved to dead letters: {}", bad.0));
                let letter = DeadLetter { id, reason: bad.0, status: None, answer: None, dead_at: js::now(), entry: None };
                queue.bury(&letter, None, Some(&raw)).await?;
                announce_dead_letter(worker, &letter);
                after = Some(id);
                continue;
            }
        };
        if stored.entry.is_expired(js::now(), worker.config.max_retention_ms) {
            queue.remove(id).await?;
            let e = &stored.entry;
            worker.tell(Event::Expired { id, method: e.method.clone(), url: e.url.clone(), queued_at: e.queued_at });
            after = Some(id);
            continue;
        }
        if let Some(at) = stored.entry.next_attempt_at {
            let wait = at - js::now();
            if wait > MAX_WAIT_MS {
                return Err(Error::Deferred(at));
            }
            if wait > 0.0 {
                net::sleep(wait).await;
            }
        }

        let flow = match gather(worker, queue, id, stored).await? {
            Gathered::Alone(stored) => send_one(worker, queue, stored, &mut last_error, &mut network_failures).await?,
            Gathered::Batch(items) => send_batch(worker, queue, items, &mut last_error, &mut network_failures).await?,
        };
        if let Flow::Next(last) = flow {
            after = Some(last);
        }
    }
    Ok(last_error)
}

/// Where the drain goes after an entry: on past it, or back to it (it waits for its next try).
enum Flow {
    Next(u64),
    Again,
}

enum Gathered {
    Alone(Stored),
    /// Entries with their bodies as text, in queue order.
    Batch(Vec<(Stored, String)>),
}

async fn send_one(
    worker: &Worker,
    queue: &Queue,
    mut stored: Stored,
    last_error: &mut Option<String>,
    network_failures: &mut u32,
) -> Result<Flow, Error> {
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
    conclude(worker, queue, &mut stored, &attempt, &body, last_error, network_failures).await
}

/// Applies what one attempt taught about an entry: remove it, note it and wait, hold the queue,
/// or move it to the dead letters; and tells the pages.
async fn conclude(
    worker: &Worker,
    queue: &Queue,
    stored: &mut Stored,
    attempt: &Attempt,
    body: &[u8],
    last_error: &mut Option<String>,
    network_failures: &mut u32,
) -> Result<Flow, Error> {
    let id = stored.entry.id.unwrap_or_default();
    let answered = matches!(attempt, Attempt::Answered { .. });
    *network_failures = if answered { 0 } else { *network_failures + 1 };
    match settle(&mut stored.entry, attempt, worker.config.max_attempts, js::now(), js_sys::Math::random()) {
        Next::Remove => {
            queue.remove(id).await?;
            let status = stored.entry.last_status.unwrap_or_default();
            worker.tell(Event::replayed(&stored.entry, status, body));
            Ok(Flow::Next(id))
        }
        Next::RetryAt(_) => {
            // The same entry goes again once its time comes: nothing overtakes it.
            queue.update(stored).await?;
            *last_error = Some(problem(stored));
            if answered {
                worker.tell(Event::failed(&stored.entry));
            } else if *network_failures >= NETWORK_FAILURES_TO_STOP {
                return Err(Error::Network(stored.entry.last_error.clone().unwrap_or_default()));
            }
            Ok(Flow::Again)
        }
        Next::Hold => {
            queue.update(stored).await?;
            worker.held.set(true);
            *last_error = Some(problem(stored));
            let e = &stored.entry;
            let status = e.last_status.unwrap_or_default();
            worker.tell(Event::AuthRequired { id, method: e.method.clone(), url: e.url.clone(), status });
            Ok(Flow::Again)
        }
        Next::DeadLetter(reason) => {
            *last_error = Some(problem(stored));
            let answer = answered.then(|| bounded_text(body, ANSWER_LIMIT).0);
            let letter =
                DeadLetter { id, reason, status: stored.entry.last_status, answer, dead_at: js::now(), entry: Some(stored.entry.clone()) };
            queue.bury(&letter, stored.body.as_ref(), None).await?;
            announce_dead_letter(worker, &letter);
            Ok(Flow::Next(id))
        }
    }
}

/// With `batchUrl` set: `first` and the ready entries right after it that can travel together.
async fn gather(worker: &Worker, queue: &Queue, id: u64, first: Stored) -> Result<Gathered, Error> {
    if worker.config.batch_url.is_none() || worker.batch_refused.get() {
        return Ok(Gathered::Alone(first));
    }
    let text = |stored: &Stored| -> Option<String> {
        let bytes = stored.body.as_ref().map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default();
        batch::text_body(&stored.entry, &worker.origin, &bytes).map(str::to_owned)
    };
    let Some(first_text) = text(&first) else { return Ok(Gathered::Alone(first)) };
    let mut bytes = first_text.len();
    let mut items = vec![(first, first_text)];
    let now = js::now();
    for (next_id, found) in queue.next_many(Some(id), worker.config.batch_size.saturating_sub(1)).await? {
        let Found::Entry(next) = found else { break };
        let ready = next.entry.next_attempt_at.is_none_or(|at| at <= now)
            && !next.entry.is_expired(now, worker.config.max_retention_ms)
            && !worker.in_flight.borrow().contains(&next_id);
        let Some(body) = text(&next).filter(|_| ready) else { break };
        if bytes + body.len() > batch::MAX_BYTES {
            break;
        }
        bytes += body.len();
        items.push((next, body));
    }
    if items.len() == 1 {
        return Ok(Gathered::Alone(items.remove(0).0));
    }
    Ok(Gathered::Batch(items))
}

/// Sends a batch and concludes each item from its own answer, in order.
async fn send_batch(
    worker: &Worker,
    queue: &Queue,
    mut items: Vec<(Stored, String)>,
    last_error: &mut Option<String>,
    network_failures: &mut u32,
) -> Result<Flow, Error> {
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
            return conclude(worker, queue, &mut first.0, &attempt, &[], last_error, network_failures).await;
        }
        Ok(response) if matches!(response.status(), 400 | 404 | 405 | 413 | 501) => {
            // This server takes no batches (or not these): one by one from now on.
            js::warn(&format!("offline-sync: {url} answered {}; replaying one request at a time", response.status()));
            worker.batch_refused.set(true);
            return Ok(Flow::Again);
        }
        Ok(response) if !(200..300).contains(&response.status()) => {
            // Busy or failing as a whole (503, 429…): nothing was applied; the first entry waits.
            let attempt = Attempt::Answered { status: response.status(), retry_after: net::header(&response, "retry-after") };
            let first = &mut items[0].0;
            return conclude(worker, queue, first, &attempt, &[], last_error, network_failures).await;
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
        *network_failures = 0;
        worker.tell_all(events);
    }
    // The first item not delivered (if any) is settled as if sent alone; the server stopped there.
    if let (Some((stored, _)), Some(answer)) = (items.get_mut(delivered), answers.get(delivered)) {
        let attempt = Attempt::Answered { status: answer.status, retry_after: answer.retry_after() };
        return conclude(worker, queue, stored, &attempt, answer.body.as_bytes(), last_error, network_failures).await;
    }
    Ok(match ids.last() {
        Some(last) => Flow::Next(*last),
        None => Flow::Again,
    })
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
    let registered = match register.call1(&sync, &JsValue::from_str(&worker.config.sync_tag)) {
        Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await.map(drop),
        Err(e) => Err(e),
    };
    match registered {
        Ok(()) => worker.sync_requested.set(true),
        Err(e) => js::warn(&format!("offline-sync: Background Sync registration failed: {}", js::describe(&e))),
    }
}

/// A mutation just reached the server, so the network is back: deliver what was waiting. The
/// queue is read only when something may have been added since it was last seen empty, so a
/// stream of online mutations costs no storage work.
pub async fn after_online_answer(worker: Rc<Worker>) {
    let waiting = match worker.queue().await {
        Ok(queue) if queue.may_hold_entries() => queue.waiting().await.unwrap_or_default(),
        _ => 0,
    };
    if waiting > 0 {
        run_to_end(&worker).await;
    }
}
