//! Sending requests and making the answers the worker gives itself.

use super::js;
use crate::entry::Entry;
use crate::error::Error;
use crate::protocol::Answer;
use js_sys::ArrayBuffer;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response, ResponseInit};

/// A request as the page made it, or as it was stored.
pub fn build(method: &str, url: &str, headers: &Headers, body: Option<&ArrayBuffer>, credentials: Option<&str>) -> Result<Request, Error> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(headers);
    if let Some(body) = body {
        init.set_body(body);
    }
    if let Some(credentials) = credentials {
        js::set(&init, "credentials", &JsValue::from_str(credentials))?;
    }
    Request::new_with_str_and_init(url, &init).map_err(js::browser)
}

/// A stored entry as a request; `extra` headers (from the page, for replays) replace stored ones.
pub fn from_entry(entry: &Entry, body: Option<&ArrayBuffer>, extra: &[(String, String)]) -> Result<Request, Error> {
    let headers = Headers::new().map_err(js::browser)?;
    for (name, value) in &entry.headers {
        headers.append(name, value).map_err(js::browser)?;
    }
    for (name, value) in extra {
        headers.set(name, value).map_err(js::browser)?;
    }
    build(&entry.method, &entry.url, &headers, body, entry.credentials.as_deref())
}

/// Fetches; `Err` only when no answer came back at all.
pub async fn send(request: &Request) -> Result<Response, Error> {
    let answer = JsFuture::from(js::scope().fetch_with_request(request)).await;
    answer.map(JsCast::unchecked_into).map_err(|e| Error::Network(js::describe(&e)))
}

/// The worker's own answer to a page, as JSON.
pub fn answer(answer: &Answer) -> Result<Response, Error> {
    let headers = Headers::new().map_err(js::browser)?;
    headers.set("Content-Type", "application/json").map_err(js::browser)?;
    let init = ResponseInit::new();
    init.set_status(answer.status());
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(&answer.body()), &init).map_err(js::browser)
}

/// The answer body's first bytes, up to one past `limit` so that the caller can tell it was cut
/// (empty when it cannot be read).
pub async fn body_prefix(response: &Response, limit: usize) -> Vec<u8> {
    let Ok(promise) = response.array_buffer() else { return Vec::new() };
    match JsFuture::from(promise).await {
        Ok(buffer) => {
            let bytes = js_sys::Uint8Array::new(&buffer);
            bytes.subarray(0, bytes.length().min(limit as u32 + 1)).to_vec()
        }
        Err(_) => Vec::new(),
    }
}

pub fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: f64) {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let ms = ms.clamp(0.0, i32::MAX as f64) as i32;
        if js::scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(timer).await;
}
