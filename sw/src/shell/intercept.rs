//! One intercepted mutation: send it with an Idempotency-Key, or keep it and answer 202.

use super::queue::{Pushed, Queue, Stored};
use super::worker::Worker;
use super::{js, net, replay};
use crate::coalesce;
use crate::intercept::{self, First, Own, Owned, Returned, Then, Undelivered};
use crate::entry::{headers_to_store, Entry};
use crate::error::Error;
use crate::protocol::{Answer, Event};
use js_sys::ArrayBuffer;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

pub async fn handle(worker: Rc<Worker>, request: Request) -> Result<Response, JsValue> {
    let headers = Headers::new_with_headers(&request.headers())?;
    let (key, new) = intercept::idempotency_key(headers.get("idempotency-key")?, || uuid::Uuid::new_v4().to_string());
    if new {
        headers.set("Idempotency-Key", &key)?;
    }
    // The body is read before anything leaves, and sent as those bytes: that keeps it for the
    // queue at less cost than a clone of the request (whose body the browser would have to tee).
    // A body that cannot be read could not be sent either.
    let Some(body) = read_body(&request).await else { return Err(Error::Network("its body could not be read".into()).into()) };
    let fits = fits(&worker, body.as_ref());
    let mutation = worker.state.borrow_mut().intercept(worker.config.queue_first, fits, js::online());
    // Kept at once (no network, or a probe out while the server does not answer), nothing is
    // built: only a request that goes out is made.
    let (undelivered, reason) = match mutation.first() {
        First::QueueFirst { attempts } => {
            let entry = Entry { attempts, ..entry_for(&worker, &request, &headers, key)? };
            let outgoing = with_key(&request, &headers, body.as_ref())?;
            return Ok(apart(queue_first(worker, entry, body.as_ref(), &outgoing)).await?);
        }
        First::Send => {
            let sent = net::send(&with_key(&request, &headers, body.as_ref())?).await;
            let then = worker.state.borrow_mut().returned(&mutation, returned(sent, &request));
            match then {
                Then::Deliver(response) => {
                    worker.debug(|| format!("sent {} {} → {}", request.method(), request.url(), response.status()));
                    // Off the answer's path: the page gets its response without waiting for the queue.
                    replay::after_online_answer(worker);
                    return Ok(response);
                }
                Then::Abort => return Err(request.signal().reason()),
                Then::Undelivered(undelivered, failure) => (undelivered, failure.to_string()),
            }
        }
        First::Undelivered(undelivered) => (undelivered, mutation.untried().to_string()),
    };
    match undelivered {
        Undelivered::Keep { attempts } => {
            let entry = Entry { attempts, last_error: Some(reason), ..entry_for(&worker, &request, &headers, key)? };
            Ok(apart(keep(&worker, entry, body.as_ref())).await?)
        }
        Undelivered::Refuse => {
            let size = u64::from(body.as_ref().map_or(0, ArrayBuffer::byte_length));
            let answer = Answer::too_large(&request.method(), &request.url(), size, worker.config.max_body_bytes);
            Ok(refuse(&answer, js::warn)?)
        }
    }
}

/// A way the online answer does not go, polled through a pointer rather than inlined into the
/// fetch handler's future: the engine compiles each function on its first call, so a cold start's
/// first answer then waits for the compiling of its own path only.
fn apart<'a>(kept: impl Future<Output = Result<Response, Error>> + 'a) -> Pin<Box<dyn Future<Output = Result<Response, Error>> + 'a>> {
    Box::pin(kept)
}

/// What came of a request the page sent: a failure after its abort is the abort.
fn returned(sent: Result<Response, Error>, request: &Request) -> Returned<Response, Error> {
    match sent {
        Ok(response) => Returned::Answered(response),
        Err(_) if request.signal().aborted() => Returned::Aborted,
        Err(e) => Returned::Failed(e),
    }
}

/// The page's request with the key added and its body, already read, given again: same mode,
/// credentials and signal.
fn with_key(request: &Request, headers: &Headers, body: Option<&ArrayBuffer>) -> Result<Request, Error> {
    let init = RequestInit::new();
    init.set_headers(headers);
    // A body that was there, even empty, has been read, so it must be given again.
    if request.body_used() {
        init.set_body(&body.cloned().unwrap_or_else(|| ArrayBuffer::new(0)));
    }
    Request::new_with_request_and_init(request, &init).map_err(js::browser)
}

/// The body's bytes (`None` inside for an empty body), or `None` when it cannot be read (a failing
/// stream): such a request fails, as the network would fail it, and a warning says why.
async fn read_body(request: &Request) -> Option<Option<ArrayBuffer>> {
    let read = match request.array_buffer() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    match read {
        Ok(body) => {
            let body: ArrayBuffer = body.into();
            Some((body.byte_length() > 0).then_some(body))
        }
        Err(e) => {
            js::warn(&format!(
                "offline-sync: {} {} failed: its body could not be read ({})",
                request.method(),
                request.url(),
                js::describe(&e)
            ));
            None
        }
    }
}

fn fits(worker: &Worker, body: Option<&ArrayBuffer>) -> bool {
    intercept::fits(u64::from(body.map_or(0, ArrayBuffer::byte_length)), worker.config.max_body_bytes)
}

/// The entry a mutation becomes if it has to wait.
fn entry_for(worker: &Worker, request: &Request, headers: &Headers, idempotency_key: String) -> Result<Entry, Error> {
    Ok(Entry {
        id: None,
        method: request.method(),
        url: request.url(),
        headers: headers_to_store(header_pairs(headers)?, worker.config.persist_authorization),
        idempotency_key,
        record: None,
        credentials: js::get(request, "credentials").as_string(),
        queued_at: js::now(),
        attempts: 0,
        refusals: 0,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
    })
}

/// Queue-first: the entry is committed before the request leaves, and removed on its answer, so a
/// worker killed in between loses nothing (the replay resends it under the same key).
async fn queue_first(worker: Rc<Worker>, mut entry: Entry, body: Option<&ArrayBuffer>, outgoing: &Request) -> Result<Response, Error> {
    let queued = match worker.queue().await {
        Ok(queue) => worker.commits.push(&queue, &entry, body).await.map(|(id, pending, _)| (queue, id, pending)),
        Err(e) => Err(e),
    };
    let (queue, id, pending) = match queued {
        Ok(queued) => queued,
        Err(e) => return storage_failed(&e),
    };
    entry.id = Some(id);
    let mut own = worker.state.borrow_mut().committed_first(id, pending, js::online());
    if own == Own::ReadHead {
        let head = match queue.read(1, &[]).await {
            Ok(head) => head.first().map(|(head, _)| *head),
            Err(e) => {
                js::warn(&format!("offline-sync: entry {id} waits for a replay, the queue's head could not be read: {e}"));
                None
            }
        };
        own = worker.state.borrow_mut().head_read(id, head, js::online());
    }
    if own != Own::Send {
        // Earlier entries wait: this one goes in its turn (or when the network is back).
        let answer = announce_queued(&worker, &entry, id, pending).await;
        replay::replay_if_waiting(worker, false);
        return answer;
    }
    let sent = net::send(outgoing).await;
    let owned = worker.state.borrow_mut().own_returned(id, returned(sent, outgoing));
    match owned {
        Owned::Delivered(response) => {
            worker.debug(|| format!("sent {} {} → {} (queue-first)", entry.method, entry.url, response.status()));
            if let Err(e) = queue.remove_all(&[id]).await {
                js::warn(&format!("offline-sync: a delivered entry stays queued and will be resent under its key: {e}"));
            }
            replay::after_online_answer(worker);
            Ok(response)
        }
        Owned::Stays(failure) => {
            if let Some(failure) = failure {
                entry.last_error = Some(failure.to_string());
                // The entry is committed whatever: a failed note of the failure still answers 202.
                if let Err(e) = queue.update(&Stored { entry: entry.clone(), body: body.cloned() }).await {
                    js::warn(&format!("offline-sync: entry {id} stays queued, its failure not noted: {e}"));
                }
            }
            let pending = pending_for_answer(&queue, 1).await;
            announce_queued(&worker, &entry, id, pending).await
        }
    }
}

/// The entries waiting, for the page's answer; if they cannot be counted, the least there are
/// (`at_least`: the one just kept, say), with a warning.
async fn pending_for_answer(queue: &Queue, at_least: u32) -> u32 {
    queue.count().await.unwrap_or_else(|e| {
        js::warn(&format!("offline-sync: the entries waiting could not be counted: {e}"));
        at_least
    })
}

fn storage_failed(e: &Error) -> Result<Response, Error> {
    refuse(&Answer::not_stored(e), js::error)
}

/// The worker's own refusal, which the console hears of too.
fn refuse(answer: &Answer, log: fn(&str)) -> Result<Response, Error> {
    if let Some(why) = answer.refusal() {
        log(why);
    }
    net::answer(answer)
}

/// Makes the page's 202, having asked for a Background Sync; the pages hear of the entry in the
/// next round of news, which the answer does not wait for.
async fn announce_queued(worker: &Worker, entry: &Entry, id: u64, pending: u32) -> Result<Response, Error> {
    worker.tell(Event::Queued { id, method: entry.method.clone(), url: entry.url.clone(), pending });
    replay::request_background_sync(worker, pending).await;
    net::answer(&Answer::Queued { id, pending })
}

/// Queues the entry (merging it into a waiting one on the same record where it may) and answers
/// 202 once that is committed, or 507 if storage failed.
async fn keep(worker: &Worker, mut entry: Entry, body: Option<&ArrayBuffer>) -> Result<Response, Error> {
    let pushed = match worker.queue().await {
        Ok(queue) => push(worker, &queue, &mut entry, body).await.map(|pushed| (queue, pushed)),
        Err(e) => Err(e),
    };
    let (queue, (pushed, pending)) = match pushed {
        Ok(pushed) => pushed,
        Err(e) => return storage_failed(&e),
    };
    let pending = match (pending, pushed) {
        (Some(pending), _) => pending,
        (None, Pushed::Cancelled(_)) => pending_for_answer(&queue, 0).await,
        (None, _) => pending_for_answer(&queue, 1).await,
    };
    let (into, cancelled) = match pushed {
        Pushed::Added(id) => return announce_queued(worker, &entry, id, pending).await,
        Pushed::Merged(into) => (into, false),
        Pushed::Cancelled(into) => (into, true),
    };
    let (method, url) = (entry.method.clone(), entry.url.clone());
    worker.tell(Event::Coalesced { into, method, url, cancelled, pending });
    replay::request_background_sync(worker, pending).await;
    net::answer(&Answer::Coalesced { into, cancelled, pending })
}

/// Adds the entry, or merges it into the latest waiting entry on the same record.
/// The number waiting comes with it when the group commit counted it.
async fn push(worker: &Worker, queue: &Rc<Queue>, entry: &mut Entry, body: Option<&ArrayBuffer>) -> Result<(Pushed, Option<u32>), Error> {
    // A write with no record to merge on still moves the mark: it is this worker's own.
    let added = |(id, pending, mark)| {
        worker.state.borrow_mut().wrote(mark);
        (Pushed::Added(id), Some(pending))
    };
    let path = entry.url.strip_prefix(&worker.origin).unwrap_or_default();
    if !worker.config.coalesces(path) {
        return worker.commits.push(queue, entry, body).await.map(added);
    }
    let bytes = body.map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default();
    entry.record = coalesce::record_key(&worker.config.coalesce, &entry.method, path, &bytes);
    let Some(key) = entry.record.clone() else {
        return worker.commits.push(queue, entry, body).await.map(added);
    };
    let target = worker.state.borrow().merge_target(&key);
    let (pushed, pending, mark) = match target {
        Some(waiting) => {
            let state = &worker.state;
            let (pushed, mark) = queue.coalesce(entry, body, waiting, |mark, w| state.borrow().fold(mark, w, entry, &bytes)).await?;
            (pushed, None, mark)
        }
        None => {
            let (id, pending, mark) = worker.commits.push(queue, entry, body).await?;
            (Pushed::Added(id), Some(pending), mark)
        }
    };
    worker.state.borrow_mut().pushed(&key, pushed, mark);
    Ok((pushed, pending))
}

/// The request's headers as name and value pairs (`Headers` iterates as `[name, value]` arrays).
fn header_pairs(headers: &Headers) -> Result<Vec<(String, String)>, Error> {
    let pairs = js::array_from(headers).map_err(js::browser)?;
    Ok((0..pairs.length())
        .filter_map(|i| {
            let pair: js_sys::Array = pairs.get(i).unchecked_into();
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect())
}
