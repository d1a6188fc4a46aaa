//! One intercepted mutation: send it with an Idempotency-Key, or keep it and answer 202.

use super::queue::{Pushed, Queue, Stored};
use super::worker::Worker;
use super::{js, net, replay};
use crate::coalesce::{self, merge, Op};
use crate::entry::{headers_to_store, Entry};
use crate::error::Error;
use crate::protocol::{self, Event};
use js_sys::ArrayBuffer;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response};

pub async fn handle(worker: Rc<Worker>, request: Request) -> Result<Response, JsValue> {
    // The body is read once, from a copy: the same bytes go to the network or to the queue. A body
    // that cannot be read (a failing stream) leaves the original to go out untouched.
    let copy = request.clone()?;
    let body: ArrayBuffer = match JsFuture::from(copy.array_buffer()?).await {
        Ok(body) => body.into(),
        Err(e) => {
            js::warn(&format!(
                "offline-sync: {} {} passed through unprotected: its body could not be read ({})",
                request.method(),
                request.url(),
                js::describe(&e)
            ));
            return Ok(net::send(&request).await?);
        }
    };
    let body = (body.byte_length() > 0).then_some(body);
    let headers = Headers::new_with_headers(&request.headers())?;
    let key = match headers.get("idempotency-key")? {
        Some(key) => key,
        None => {
            let key = uuid::Uuid::new_v4().to_string();
            headers.set("Idempotency-Key", &key)?;
            key
        }
    };
    let credentials = js::get(&request, "credentials").as_string();
    let method = request.method();
    let url = request.url();
    let outgoing = net::build(&method, &url, &headers, body.as_ref(), credentials.as_deref())?;
    let size = body.as_ref().map_or(0, ArrayBuffer::byte_length);
    let fits = u64::from(size) <= worker.config.max_body_bytes;
    let entry = Entry {
        id: None,
        method,
        url,
        headers: headers_to_store(header_pairs(&headers), worker.config.persist_authorization),
        idempotency_key: key,
        record: None,
        credentials,
        queued_at: js::now(),
        attempts: 0,
        refusals: 0,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
    };
    if worker.config.queue_first && fits {
        return Ok(queue_first(worker, entry, body.as_ref(), &outgoing).await?);
    }

    match net::send(&outgoing).await {
        Ok(response) => {
            worker.debug(|| format!("sent {} {} → {}", entry.method, entry.url, response.status()));
            // Off the answer's path: the page gets its response without waiting for the queue.
            wasm_bindgen_futures::spawn_local(replay::after_online_answer(worker));
            Ok(response)
        }
        Err(_) if request.signal().aborted() => Err(request.signal().reason()),
        Err(Error::Network(_)) if !fits => {
            let message = format!(
                "offline-sync did not queue {} {}: its body is {size} bytes, over maxBodyBytes ({})",
                entry.method, entry.url, worker.config.max_body_bytes
            );
            js::warn(&message);
            Ok(net::json_response(413, &protocol::error_answer(&message))?)
        }
        Err(Error::Network(reason)) => {
            let entry = Entry {
                // Offline, the request never left; otherwise it may have reached the server and
                // only its answer been lost, so it counts as sent (and nothing merges into it).
                attempts: u32::from(js::online()),
                last_error: Some(format!("network error: {reason}")),
                ..entry
            };
            Ok(keep(&worker, entry, body.as_ref()).await?)
        }
        Err(other) => Err(other.into()),
    }
}

/// Queue-first: the entry is committed before the request leaves, and removed on its answer, so a
/// worker killed in between loses nothing (the replay resends it under the same key).
async fn queue_first(worker: Rc<Worker>, mut entry: Entry, body: Option<&ArrayBuffer>, outgoing: &Request) -> Result<Response, Error> {
    // Counted as sent from the start: once it leaves, nothing may merge into it.
    entry.attempts = 1;
    let queued = match worker.queue().await {
        Ok(queue) => queue.push(&entry, body).await.map(|id| (queue, id)),
        Err(e) => Err(e),
    };
    let (queue, id) = match queued {
        Ok(queued) => queued,
        Err(e) => return storage_failed(&e),
    };
    entry.id = Some(id);
    let first_in_line = matches!(queue.next_after(None).await, Ok(Some((head, _))) if head == id);
    if !first_in_line || worker.syncing.get() {
        // Earlier entries wait: this one goes in its turn.
        let answer = announce_queued(&worker, &queue, &entry, id).await;
        wasm_bindgen_futures::spawn_local(replay::after_online_answer(worker));
        return answer;
    }
    worker.in_flight.borrow_mut().insert(id);
    let sent = net::send(outgoing).await;
    worker.in_flight.borrow_mut().remove(&id);
    match sent {
        Ok(response) => {
            worker.debug(|| format!("sent {} {} → {} (queue-first)", entry.method, entry.url, response.status()));
            if let Err(e) = queue.remove(id).await {
                js::warn(&format!("offline-sync: a delivered entry stays queued and will be resent under its key: {e}"));
            }
            wasm_bindgen_futures::spawn_local(replay::after_online_answer(worker));
            Ok(response)
        }
        Err(e) => {
            entry.last_error = Some(e.to_string());
            queue.update(&Stored { entry: entry.clone(), body: body.cloned() }).await?;
            announce_queued(&worker, &queue, &entry, id).await
        }
    }
}

fn storage_failed(e: &Error) -> Result<Response, Error> {
    let message = format!("offline-sync could not queue the request: {e}");
    js::error(&message);
    net::json_response(507, &protocol::error_answer(&message))
}

/// Tells the pages an entry waits, asks for a Background Sync, and makes the page's 202.
async fn announce_queued(worker: &Worker, queue: &Queue, entry: &Entry, id: u64) -> Result<Response, Error> {
    let pending = queue.count().await.unwrap_or(1);
    worker.tell(&Event::Queued { id, method: entry.method.clone(), url: entry.url.clone(), pending }).await;
    replay::request_background_sync(worker).await;
    net::json_response(202, &protocol::queued_answer(id, pending))
}

/// Queues the entry (merging it into a waiting one on the same record where it may) and answers
/// 202 once that is committed, or 507 if storage failed.
async fn keep(worker: &Worker, mut entry: Entry, body: Option<&ArrayBuffer>) -> Result<Response, Error> {
    let pushed = match worker.queue().await {
        Ok(queue) => push(worker, &queue, &mut entry, body).await.map(|pushed| (queue, pushed)),
        Err(e) => Err(e),
    };
    let (queue, pushed) = match pushed {
        Ok(pushed) => pushed,
        Err(e) => return storage_failed(&e),
    };
    let (into, cancelled) = match pushed {
        Pushed::Added(id) => return announce_queued(worker, &queue, &entry, id).await,
        Pushed::Merged(into) => (into, false),
        Pushed::Cancelled(into) => (into, true),
    };
    let pending = queue.count().await.unwrap_or_default();
    worker.coalesced.set(worker.coalesced.get() + if cancelled { 2 } else { 1 });
    let (method, url) = (entry.method.clone(), entry.url.clone());
    worker.tell(&Event::Coalesced { into, method, url, cancelled, pending }).await;
    if pending > 0 {
        replay::request_background_sync(worker).await;
    }
    net::json_response(202, &protocol::coalesced_answer(into, cancelled, pending))
}

/// Adds the entry, or merges it into the latest waiting entry on the same record.
async fn push(worker: &Worker, queue: &Rc<Queue>, entry: &mut Entry, body: Option<&ArrayBuffer>) -> Result<Pushed, Error> {
    let path = entry.url.strip_prefix(&worker.origin).unwrap_or_default();
    if !worker.config.coalesces(path) {
        return worker.commits.push(queue, entry, body).await.map(Pushed::Added);
    }
    let bytes = body.map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default();
    entry.record = coalesce::record_key(&worker.config.coalesce, &entry.method, path, &bytes);
    let Some(key) = entry.record.clone() else {
        return worker.commits.push(queue, entry, body).await.map(Pushed::Added);
    };
    let waiting = worker.latest_on(queue, &key).await;
    // A replay may be sending the waiting entry right now: merge only while none runs. Checked in
    // the same turn as the merge's transaction is created, so a replay that starts later reads
    // the merged entry.
    let pushed = match waiting {
        Some(waiting) if !worker.syncing.get() => {
            let new = Op { method: entry.method.clone(), unsent: true, body: bytes };
            queue
                .coalesce(entry, body, waiting, |w, w_body| {
                    merge(&Op { method: w.method.clone(), unsent: w.attempts == 0, body: w_body }, &new)
                })
                .await?
        }
        _ => Pushed::Added(worker.commits.push(queue, entry, body).await?),
    };
    let mut records = worker.records.borrow_mut();
    if let Some(records) = records.as_mut() {
        match pushed {
            Pushed::Added(id) => drop(records.insert(key, id)),
            Pushed::Cancelled(_) => drop(records.remove(&key)),
            Pushed::Merged(_) => {}
        }
    }
    Ok(pushed)
}

fn header_pairs(headers: &Headers) -> Vec<(String, String)> {
    let Ok(Some(entries)) = js_sys::try_iter(headers) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|pair| {
            let pair = js_sys::Array::from(&pair);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}
