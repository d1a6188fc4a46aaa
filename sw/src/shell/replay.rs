//! Replaying the queue: one run at a time, in queue order, each entry judged by `outcome`.

use super::queue::{Queue, Stored};
use super::worker::Worker;
use super::{clients, js, net};
use crate::error::Error;
use crate::outcome::{describe, next_step, Attempt, Next};
use crate::protocol::Event;
use js_sys::Promise;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// Starts a replay, or joins the one under way (which then runs once more before it settles).
/// The promise rejects when the network failed, so a `sync` event is retried by the browser.
pub fn trigger(worker: &Rc<Worker>) -> Promise {
    if let Some(running) = worker.replay.borrow().clone() {
        worker.rerun.set(true);
        return running;
    }
    let w = worker.clone();
    let promise = future_to_promise(async move {
        let result = loop {
            w.rerun.set(false);
            let result = run(&w).await;
            if result.is_err() || !w.rerun.get() {
                break result;
            }
        };
        *w.replay.borrow_mut() = None;
        result.map(|()| JsValue::UNDEFINED).map_err(JsValue::from)
    });
    *worker.replay.borrow_mut() = Some(promise.clone());
    promise
}

/// Runs a replay and waits for it, for callers that only need to know it ended.
pub async fn run_to_end(worker: &Rc<Worker>) {
    let _ = JsFuture::from(trigger(worker)).await;
}

async fn run(worker: &Worker) -> Result<(), Error> {
    let queue = worker.queue().await?;
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

/// Sends every entry once; `Ok` holds the last refusal seen, if any.
async fn drain(worker: &Worker, queue: &Queue) -> Result<Option<String>, Error> {
    let mut after = None;
    let mut last_error = None;
    while let Some((id, record)) = queue.next_after(after).await? {
        after = Some(id);
        let mut stored = match record {
            Ok(stored) => stored,
            Err(bad) => {
                js::warn(&format!("offline-sync: skipped queue record {id}: {}", bad.0));
                let event = Event::Failed { id: Some(id), method: String::new(), url: String::new(), status: None, error: bad.0, attempts: 0 };
                clients::broadcast(&event).await;
                continue;
            }
        };
        let entry = &stored.entry;
        if entry.is_expired(js::now(), worker.config.max_retention_ms) {
            queue.remove(id).await?;
            let event = Event::Expired { id, method: entry.method.clone(), url: entry.url.clone(), queued_at: entry.queued_at };
            clients::broadcast(&event).await;
            worker.broadcast_status().await;
            continue;
        }
        let request = net::from_entry(entry, stored.body.as_ref())?;
        let (attempt, response) = match net::send(&request).await {
            Ok(response) => (Attempt::Answered(response.status()), Some(response)),
            Err(e) => (Attempt::NetworkError(e.to_string()), None),
        };
        match next_step(&attempt) {
            Next::Remove => {
                queue.remove(id).await?;
                let body = match &response {
                    Some(response) => net::body_bytes(response).await,
                    None => Vec::new(),
                };
                let status = response.map_or(0, |r| r.status());
                clients::broadcast(&Event::replayed(&stored.entry, status, &body)).await;
                worker.broadcast_status().await;
            }
            Next::Stop => {
                record_attempt(queue, &mut stored, &attempt, None).await?;
                return Err(Error::Network(describe(&attempt).unwrap_or_default()));
            }
            Next::RecordAndContinue => {
                let status = response.map(|r| r.status());
                record_attempt(queue, &mut stored, &attempt, status).await?;
                last_error = Some(format!(
                    "{} for {} {}",
                    stored.entry.last_error.as_deref().unwrap_or_default(),
                    stored.entry.method,
                    stored.entry.url
                ));
                clients::broadcast(&Event::failed(&stored.entry)).await;
            }
        }
    }
    Ok(last_error)
}

async fn record_attempt(queue: &Queue, stored: &mut Stored, attempt: &Attempt, status: Option<u16>) -> Result<(), Error> {
    stored.entry.attempts += 1;
    stored.entry.last_error = describe(attempt);
    if status.is_some() {
        stored.entry.last_status = status;
    }
    queue.update(stored).await
}

/// Whether this browser has Background Sync; where it has not, the worker replays on its own.
pub fn has_background_sync() -> bool {
    let sync = js::get(&js::scope().registration(), "sync");
    !sync.is_undefined() && !sync.is_null()
}

/// Asks the browser for a `sync` event once the network is back.
pub async fn request_background_sync(worker: &Worker) {
    let sync = js::get(&js::scope().registration(), "sync");
    let register = js::get(&sync, "register");
    let Some(register) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&register) else { return };
    match register.call1(&sync, &JsValue::from_str(&worker.config.sync_tag)) {
        Ok(promise) => {
            if let Err(e) = JsFuture::from(Promise::resolve(&promise)).await {
                js::warn(&format!("offline-sync: Background Sync registration failed: {}", js::describe(&e)));
            }
        }
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
