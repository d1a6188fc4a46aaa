//! What the JavaScript loader calls: one function per service-worker event.

use super::worker::Worker;
use super::{clients, intercept, js, replay};
use crate::config::{self, Config};
use serde_json::Value;
use crate::error::Error;
use crate::page::{Plan, Reply, Step};
use crate::protocol::{parse_request, Event, PendingEntry, Request as PageRequest};
use std::rc::Rc;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{ExtendableMessageEvent, Request};

/// A panic shows its message and where it happened on the worker's console.
#[wasm_bindgen(start)]
fn on_load() {
    console_error_panic_hook::set_once();
}

/// Reads the options (a query string from a standalone `sw.js`, or the `self.offlineSync` object),
/// reports bad ones. Without Background Sync, also opens the queue and replays what is waiting.
#[wasm_bindgen]
pub fn start(options: JsValue) {
    let (config, errors) = if let Some(query) = options.as_string() {
        Config::from_query(&query)
    } else if options.is_undefined() || options.is_null() {
        (Config::default(), Vec::new())
    } else {
        let parsed = js::to_json(&options).and_then(|text| serde_json::from_str(&text).ok());
        Config::from_json(&parsed.unwrap_or(Value::Bool(false)))
    };
    for error in &errors {
        js::error(&error.to_string());
    }
    let worker = Worker::install(config, js::scope().location().origin());
    // With Background Sync the browser says when to replay, and the queue opens on first need:
    // a cold start's first request does not share the worker with an IndexedDB open.
    if replay::has_background_sync() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = worker.queue().await {
            js::error(&format!("offline-sync: the queue could not be opened: {e}"));
            return;
        }
        // A worker that starts says nothing of the network: entries keep their back-off.
        replay::replay_if_waiting(worker, false);
    });
}

/// Decided synchronously, so the loader knows whether to call `respondWith` at all.
#[wasm_bindgen]
pub fn intercepts(request: &Request) -> bool {
    let worker = Worker::current();
    worker.config.intercepts(&request.method(), &request.url(), &worker.origin)
}

#[wasm_bindgen(js_name = handleFetch)]
pub fn handle_fetch(request: Request) -> Promise {
    future_to_promise(async move { intercept::handle(Worker::current(), request).await.map(JsValue::from) })
}

/// For an app's own fetch handler: protects any same-origin mutation it hands over, whatever its
/// path; anything else is simply fetched.
#[wasm_bindgen]
pub fn handle(request: Request) -> Promise {
    let worker = Worker::current();
    if config::protects_handed_over(&request.method(), &request.url(), &worker.origin) {
        handle_fetch(request)
    } else {
        js::scope().fetch_with_request(&request)
    }
}

/// Whether the loader adds the worker's own `fetch` listener (option `fetchListener`).
#[wasm_bindgen(js_name = listensForFetch)]
pub fn listens_for_fetch() -> bool {
    Worker::current().config.fetch_listener
}

/// Starts a replay, for an app's own worker code (e.g. on its own schedule).
#[wasm_bindgen]
pub fn replay() -> Promise {
    replay::trigger(&Worker::current(), true)
}

/// The `sync` event's promise, or `None` when the tag belongs to someone else.
#[wasm_bindgen(js_name = handleSync)]
pub fn handle_sync(tag: String) -> Option<Promise> {
    let worker = Worker::current();
    if !worker.state.borrow_mut().sync_event(&tag, &worker.config.sync_tag) {
        return None;
    }
    Some(replay::trigger(&worker, true))
}

/// Answers a page's message; `None` when the message is not for offline-sync.
#[wasm_bindgen(js_name = handleMessage)]
pub fn handle_message(event: ExtendableMessageEvent) -> Option<Promise> {
    let data = js::to_json(&event.data()).and_then(|text| serde_json::from_str(&text).ok());
    let port = event.ports().get(0);
    let request = match parse_request(data.as_ref().unwrap_or(&Value::Null)) {
        Ok(Some(request)) => request,
        Ok(None) => return None,
        Err(why) => {
            js::warn(&format!("offline-sync: {why}"));
            // A page waiting on its port hears why at once, instead of waiting out its deadline.
            if !port.is_undefined() {
                clients::reply(&port, &Event::Error { message: why });
            }
            return None;
        }
    };
    let answer_to = if port.is_undefined() { event.source().map(JsValue::from).unwrap_or_default() } else { port };
    Some(future_to_promise(async move {
        let event = answer(&Worker::current(), request).await;
        clients::reply(&answer_to, &event);
        Ok(JsValue::UNDEFINED)
    }))
}

/// Carries out what the core plans for the message (`State::answer`); the first step that fails
/// ends it, and the page gets that error.
async fn answer(worker: &Rc<Worker>, request: PageRequest) -> Event {
    let plan = worker.state.borrow_mut().answer(request);
    match carry_out(worker, plan).await {
        Ok(event) => event,
        Err(e) => Event::Error { message: e.to_string() },
    }
}

async fn carry_out(worker: &Rc<Worker>, plan: Plan) -> Result<Event, Error> {
    let queue = worker.queue().await?;
    for step in plan.steps {
        match step {
            Step::Revive(id) => drop(queue.revive(id).await?),
            Step::Discard(id) => queue.discard(id).await?,
            Step::TellStatus => worker.broadcast_status(),
            Step::Replay => replay::run_to_end(worker, true).await,
        }
    }
    Ok(match plan.reply {
        Reply::Pending => Event::Pending { entries: queue.list().await?.iter().map(PendingEntry::from).collect() },
        Reply::DeadLetters => Event::DeadLetters { entries: queue.dead_letters().await? },
        Reply::Status => {
            worker.news_sent().await;
            Event::Status(worker.status().await?)
        }
    })
}
