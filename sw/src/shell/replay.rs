//! Replaying the queue: one run at a time (across workers too), in queue order on every lane
//! (`lanes`: strictly in order unless `replayConcurrency` allows more), each entry settled by
//! `outcome`.

use super::queue::{Found, Queue, Stored};
use super::worker::Worker;
use super::{join, js, net};
use crate::dead_letter::ANSWER_LIMIT;
use crate::drain::{BatchSent, Command, Drain, Head};
use crate::entry::Entry;
use crate::error::Error;
use crate::outcome::Attempt;
use crate::protocol::REPLAY_BODY_LIMIT;
use crate::state::Trigger;
use js_sys::{ArrayBuffer, Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// The Web Lock that keeps two workers (an old one and its update) from replaying at once.
const LOCK: &str = "offline-sync:replay";

/// Starts a replay, or joins the one under way (which then runs once more before it settles).
/// The promise rejects when the replay could not finish, so a `sync` event is retried later.
/// `network_back`: the trigger says the network may be back (see `drain::Drain::new`).
pub fn trigger(worker: &Rc<Worker>, network_back: bool) -> Promise {
    let trigger = worker.state.borrow_mut().trigger(network_back);
    if trigger == Trigger::Wake {
        worker.wake();
    }
    if trigger != Trigger::Start {
        if let Some(running) = worker.replay.borrow().clone() {
            return running;
        }
    }
    let w = worker.clone();
    let run_all = move || {
        future_to_promise(async move {
            let result = loop {
                let network_back = w.state.borrow_mut().next_run();
                let result = run(&w, network_back).await;
                if !w.state.borrow_mut().run_again(result.is_err()) {
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

/// Runs `work` while holding the replay Web Lock; where the browser has no Web Locks, or refuses
/// the lock before granting it, the in-worker guard in `trigger` is all there is: a replay that
/// never ran would leave every later trigger joining it.
fn with_lock(work: impl FnOnce() -> Promise + 'static) -> Promise {
    let locks = js::get(&js::get(&js::scope(), "navigator"), "locks");
    let request = js::get(&locks, "request");
    let Some(request) = request.dyn_ref::<Function>() else { return work() };
    // Taken once: by the lock's callback, or by the refusal of the lock.
    let work = Rc::new(RefCell::new(Some(work)));
    let granted = work.clone();
    let callback = Closure::once_into_js(move |_lock: JsValue| granted.borrow_mut().take().map_or_else(|| Promise::resolve(&JsValue::UNDEFINED), |work| work()));
    let requested = request.call2(&locks, &JsValue::from_str(LOCK), &callback).map(|held| JsFuture::from(Promise::resolve(&held)));
    // Awaited here rather than with a `catch` handler, which would leak whenever it is not called.
    future_to_promise(async move {
        let refused = match requested {
            Ok(held) => match held.await {
                Ok(done) => return Ok(done),
                Err(e) => e,
            },
            Err(e) => e,
        };
        // Once granted, the rejection is the replay's own.
        let Some(work) = work.borrow_mut().take() else { return Err(refused) };
        js::warn(&format!("offline-sync: the replay lock was refused ({}); this replay runs without it", js::describe(&refused)));
        JsFuture::from(work()).await
    })
}

/// Runs a replay and waits for it, for callers that only need to know it ended.
pub async fn run_to_end(worker: &Rc<Worker>, network_back: bool) {
    let _ = JsFuture::from(trigger(worker, network_back)).await;
}

async fn run(worker: &Worker, network_back: bool) -> Result<(), Error> {
    let queue = worker.queue().await?;
    if !worker.state.borrow_mut().drain_starts() {
        return Ok(());
    }
    worker.broadcast_status();
    let result = drain(worker, &queue, network_back).await;
    worker.state.borrow_mut().drain_ends(&result, js::now());
    worker.broadcast_status();
    // Within the `sync` event's lifetime: the pages hear how it ended before the browser may stop us.
    worker.news_sent().await;
    result.map(drop)
}

/// Carries out a run (`drain`): it reads the head of the queue, sends, writes and tells the pages
/// as the run says, and reports back what came of each step; `Ok` holds the last problem seen.
async fn drain(worker: &Worker, queue: &Queue, network_back: bool) -> Result<Option<String>, Error> {
    let mut run = Drain::new(&worker.config, &worker.origin, worker.state.borrow().batch_refused(), network_back);
    // What the last read found, by queue id: bodies to send and rewrite, raw records to bury.
    let mut bodies: Vec<(u64, Option<ArrayBuffer>)> = Vec::new();
    let mut raws: Vec<(u64, JsValue)> = Vec::new();
    let body_of = |bodies: &[(u64, Option<ArrayBuffer>)], id: Option<u64>| bodies.iter().find(|(b, _)| Some(*b) == id).and_then(|(_, body)| body.clone());
    loop {
        let Some(command) = run.poll() else { unreachable!("a run always has a next step until it is done") };
        match command {
            Command::ReadHead { limit, texts: with_texts, remove } => {
                let records = queue.read(limit, &remove).await?;
                bodies.clear();
                raws.clear();
                let in_flight = worker.state.borrow().in_flight().to_vec();
                let heads = records
                    .into_iter()
                    .map(|(id, found)| match found {
                        Found::Entry(stored) => {
                            let text = with_texts.then(|| body_text(stored.body.as_ref())).flatten();
                            bodies.push((id, stored.body));
                            Head { id, record: Ok(stored.entry), text, busy: in_flight.contains(&id) }
                        }
                        Found::Unreadable(e, raw) => {
                            raws.push((id, raw));
                            Head { id, record: Err(e), text: None, busy: false }
                        }
                    })
                    .collect();
                run.window(heads, js::now());
            }
            Command::Remove(ids) => queue.remove_all(&ids).await?,
            Command::Update(entries) => {
                for entry in entries {
                    let body = body_of(&bodies, entry.id);
                    queue.update(&Stored { entry, body }).await?;
                }
            }
            Command::Bury(letter) => {
                let body = body_of(&bodies, Some(letter.id));
                let raw = raws.iter().find(|(id, _)| *id == letter.id).map(|(_, raw)| raw);
                queue.bury(&letter, body.as_ref(), raw).await?;
            }
            Command::Send(ids) => {
                let sends = ids.iter().map(|&id| {
                    let entry = run.entry(id).cloned();
                    let body = body_of(&bodies, Some(id));
                    async move {
                        let Some(entry) = entry else { unreachable!("the run names entries of its window") };
                        send_one(worker, &entry, body.as_ref()).await
                    }
                });
                let results = join::all(sends.collect()).await;
                for (id, (attempt, body)) in ids.into_iter().zip(results) {
                    run.sent(id, attempt, &body, js::now(), js_sys::Math::random());
                }
            }
            Command::SendBatch { url, payload, .. } => {
                let sent = send_batch(worker, &url, &payload).await?;
                run.batch_sent(sent, js::now(), js_sys::Math::random());
            }
            Command::Hold => worker.state.borrow_mut().hold(),
            Command::RefuseBatches => worker.state.borrow_mut().refuse_batches(),
            Command::Tell(events) => worker.tell_all(events),
            Command::Warn(text) => js::warn(&text),
            Command::Sleep(ms) => {
                if worker.sleep(ms).await {
                    run.network_may_be_back();
                }
            }
            Command::Done(result) => return result,
        }
    }
}

/// A body as UTF-8 text, when it is text (an empty body is), read once for the run's batches.
fn body_text(body: Option<&ArrayBuffer>) -> Option<String> {
    String::from_utf8(body.map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default()).ok()
}

/// Sends one entry as it was queued, with the page's replay headers; the attempt and the first
/// bytes of the answer.
async fn send_one(worker: &Worker, entry: &Entry, body: Option<&ArrayBuffer>) -> (Attempt, Vec<u8>) {
    let request = match net::from_entry(entry, body, worker.state.borrow().replay_headers()) {
        Ok(request) => request,
        Err(e) => return (Attempt::Unsendable(e.to_string()), Vec::new()),
    };
    match net::send(&request).await {
        Ok(response) => {
            let retry_after = net::header(&response, "retry-after");
            let body = net::body_prefix(&response, REPLAY_BODY_LIMIT.max(ANSWER_LIMIT)).await;
            (Attempt::Answered { status: response.status(), retry_after }, body)
        }
        Err(Error::Network(reason)) => (Attempt::NetworkError(reason), Vec::new()),
        Err(other) => (Attempt::NetworkError(other.to_string()), Vec::new()),
    }
}

/// POSTs a batch the run made to the batch endpoint, with the page's replay headers.
async fn send_batch(worker: &Worker, url: &str, payload: &str) -> Result<BatchSent, Error> {
    let headers = web_sys::Headers::new().map_err(js::browser)?;
    headers.set("content-type", "application/json").map_err(js::browser)?;
    for (name, value) in worker.state.borrow().replay_headers() {
        headers.set(name, value).map_err(js::browser)?;
    }
    let body = js_sys::Uint8Array::from(payload.as_bytes()).buffer();
    let request = net::build("POST", url, &headers, Some(&body), Some("same-origin"))?;
    Ok(match net::send(&request).await {
        Err(Error::Network(reason)) => BatchSent::NoAnswer(reason),
        Err(other) => BatchSent::NoAnswer(other.to_string()),
        Ok(response) => {
            let retry_after = net::header(&response, "retry-after");
            let body = String::from_utf8_lossy(&net::body_prefix(&response, 64 * 1024 * 1024).await).into_owned();
            BatchSent::Answered { status: response.status(), retry_after, body }
        }
    })
}

/// Whether this browser has Background Sync; where it has not, the worker replays on its own.
pub fn has_background_sync() -> bool {
    let sync = js::get(&js::scope().registration(), "sync");
    !sync.is_undefined() && !sync.is_null()
}

/// Asks the browser for a `sync` event once the network is back, if the core says so
/// (`State::ask_for_sync`).
pub async fn request_background_sync(worker: &Worker, pending: u32) {
    if !worker.state.borrow_mut().ask_for_sync(pending) {
        return;
    }
    let sync = js::get(&js::scope().registration(), "sync");
    let register = js::get(&sync, "register");
    let Some(register) = register.dyn_ref::<Function>() else { return };
    let registered = match register.call1(&sync, &JsValue::from_str(&worker.config.sync_tag)) {
        Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = registered {
        worker.state.borrow_mut().sync_used();
        js::warn(&format!("offline-sync: Background Sync registration failed: {}", js::describe(&e)));
    }
}

/// A mutation just reached the server, so the network is back: deliver what was waiting, off the
/// answer's path. With the queue not yet open (a cold start), that starts a task later: the
/// engine compiles a function on its first call, and the answer would otherwise wait for the
/// compiling of the replay's.
pub fn after_online_answer(worker: Rc<Worker>) {
    if worker.open_queue().is_some() {
        return replay_if_waiting(worker, true);
    }
    wasm_bindgen_futures::spawn_local(async move {
        net::sleep(0.0).await;
        replay_if_waiting(worker, true);
    });
}

/// Replays what is waiting, if anything may be (`network_back`: see `trigger`). The queue is read
/// only when something may have been added since it was last seen empty, so a stream of online
/// mutations costs no storage work, nor even a task.
pub fn replay_if_waiting(worker: Rc<Worker>, network_back: bool) {
    let may_hold = |worker: &Worker, queue: &Queue| worker.state.borrow().may_hold_entries(queue.additions());
    if worker.open_queue().is_some_and(|queue| !may_hold(&worker, &queue)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let counted = match worker.queue().await {
            Ok(queue) if !may_hold(&worker, &queue) => return,
            Ok(queue) => {
                let additions = queue.additions();
                queue.count().await.map(|waiting| (waiting, additions))
            }
            Err(e) => Err(e),
        };
        match counted {
            Ok((waiting, additions)) => {
                if worker.state.borrow_mut().counted(waiting, additions) {
                    run_to_end(&worker, network_back).await;
                }
            }
            Err(e) => js::warn(&format!("offline-sync: the queue could not be read, so it waits for the next replay: {e}")),
        }
    });
}
