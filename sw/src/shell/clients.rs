//! Telling pages what happened: every window client hears every event, controlled or not.

use super::js;
use crate::protocol::Event;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Client, ClientQueryOptions, ClientType};

/// Posts `events`, in order, to every window client, listing the clients once.
pub async fn broadcast(events: &[Event]) {
    let messages: Vec<JsValue> = events.iter().filter_map(|e| js::from_json(&e.to_json()).ok()).collect();
    let options = ClientQueryOptions::new();
    options.set_include_uncontrolled(true);
    options.set_type(ClientType::Window);
    let Ok(list) = JsFuture::from(js::scope().clients().match_all_with_options(&options)).await else {
        return;
    };
    for client in js_sys::Array::from(&list).iter() {
        if let Ok(client) = client.dyn_into::<Client>() {
            for message in &messages {
                if let Err(e) = client.post_message(message) {
                    js::warn(&format!("offline-sync: could not post to a page: {}", js::describe(&e)));
                }
            }
        }
    }
}

/// Answers one request: on its MessagePort when it sent one, else to the page that asked.
pub fn reply(to: &JsValue, event: &Event) {
    let Ok(message) = js::from_json(&event.to_json()) else { return };
    let post = js::get(to, "postMessage");
    if let Some(post) = post.dyn_ref::<js_sys::Function>() {
        if let Err(e) = post.call1(to, &message) {
            js::warn(&format!("offline-sync: could not answer a page: {}", js::describe(&e)));
        }
    }
}
