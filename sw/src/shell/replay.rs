//! Replaying the queue: one run at a time (across workers too), strictly in queue order, each
//! entry settled by `outcome`.

use super::queue::{Found, Queue, Stored};
use super::worker::Worker;
use super::{js, net};
use crate::dead_letter::{DeadLetter, ANSWER_LIMIT};
use crate::error::Error;
use crate::outcome::{settle, Attempt, Next};
use crate::protocol::{bounded_text, Event, REPLAY_BODY_LIMIT};
use js_sys::{Function, Promise};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::Response;

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
    worker.broadcast_status().await;
    let result = drain(worker, &queue).await;
    worker.syncing.set(false);
    match &result {
        Ok(last_error) => {
            worker.last_sync_at.set(Some(js::now()));
            *worker.last_error.borrow_mut() = last_error.clone();
        }
        Err(e) => *worker.last_error.borrow_mut() = Some(e.to_string()),
    }
    worker.broadcast_status().await;
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
        let mut stored = match found {
            Found::Entry(stored) => stored,
            Found::Unreadable(bad, raw) => {
                js::warn(&format!("offline-sync: queue record {id} moved to dead letters: {}", bad.0));
                let letter = DeadLetter { id, reason: bad.0, status: None, answer: None, dead_at: js::now(), entry: None };
                queue.bury(&letter, None, Some(&raw)).await?;
                announce_dead_letter(worker, &letter).await;
                after = Some(id);
                continue;
            }
        };
        if stored.entry.is_expired(js::now(), worker.config.max_retention_ms) {
            queue.remove(id).await?;
            let e = &stored.entry;
            worker.tell(&Event::Expired { id, method: e.method.clone(), url: e.url.clone(), queued_at: e.queued_at }).await;
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

        let request = net::from_entry(&stored.entry, stored.body.as_ref(), &worker.replay_headers.borrow())?;
        let (attempt, response) = match net::send(&request).await {
            Ok(response) => {
                let retry_after = net::header(&response, "retry-after");
                (Attempt::Answered { status: response.status(), retry_after }, Some(response))
            }
            Err(Error::Network(reason)) => (Attempt::NetworkError(reason), None),
            Err(other) => (Attempt::NetworkError(other.to_string()), None),
        };
        let next = settle(&mut stored.entry, &attempt, worker.config.max_attempts, js::now(), js_sys::Math::random());
        network_failures = if response.is_none() { network_failures + 1 } else { 0 };
        match next {
            Next::Remove => {
                queue.remove(id).await?;
                let body = match &response {
                    Some(r) => net::body_prefix(r, REPLAY_BODY_LIMIT).await,
                    None => Vec::new(),
                };
                let status = response.as_ref().map_or(0, Response::status);
                worker.tell(&Event::replayed(&stored.entry, status, &body)).await;
                after = Some(id);
            }
            Next::RetryAt(_) => {
                // The same entry goes again once its time comes: nothing overtakes it.
                queue.update(&stored).await?;
                last_error = Some(problem(&stored));
                if response.is_some() {
                    worker.tell(&Event::failed(&stored.entry)).await;
                } else if network_failures >= NETWORK_FAILURES_TO_STOP {
                    return Err(Error::Network(stored.entry.last_error.clone().unwrap_or_default()));
                }
            }
            Next::Hold => {
                queue.update(&stored).await?;
                worker.held.set(true);
                last_error = Some(problem(&stored));
                let e = &stored.entry;
                let status = e.last_status.unwrap_or_default();
                worker.tell(&Event::AuthRequired { id, method: e.method.clone(), url: e.url.clone(), status }).await;
            }
            Next::DeadLetter(reason) => {
                let answer = match &response {
                    Some(r) => Some(bounded_text(&net::body_prefix(r, ANSWER_LIMIT).await, ANSWER_LIMIT).0),
                    None => None,
                };
                last_error = Some(problem(&stored));
                let letter = DeadLetter {
                    id,
                    reason,
                    status: stored.entry.last_status,
                    answer,
                    dead_at: js::now(),
                    entry: Some(stored.entry.clone()),
                };
                queue.bury(&letter, stored.body.as_ref(), None).await?;
                announce_dead_letter(worker, &letter).await;
                after = Some(id);
            }
        }
    }
    Ok(last_error)
}

fn problem(stored: &Stored) -> String {
    let e = &stored.entry;
    format!("{} for {} {}", e.last_error.as_deref().unwrap_or("failure"), e.method, e.url)
}

async fn announce_dead_letter(worker: &Worker, letter: &DeadLetter) {
    let view = letter.view();
    let event = Event::DeadLettered { id: view.id, method: view.method, url: view.url, status: view.status, reason: view.reason };
    worker.tell(&event).await;
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

/// A mutation just reached the server, so the network is back: deliver what was waiting.
pub async fn after_online_answer(worker: Rc<Worker>) {
    let waiting = match worker.queue().await {
        Ok(queue) => queue.count().await.unwrap_or_default(),
        Err(_) => 0,
    };
    if waiting > 0 {
        run_to_end(&worker).await;
    }
}
