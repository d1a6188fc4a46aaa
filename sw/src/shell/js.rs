//! Small conversions between JS values and the core's plain data.

use crate::error::Error;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::ServiceWorkerGlobalScope;

#[wasm_bindgen]
extern "C" {
    /// `Array.from`, whose throw comes back as an error: js-sys's own would unwind through the
    /// engine's future and leave it stalled.
    #[wasm_bindgen(js_namespace = Array, js_name = from, catch)]
    pub fn array_from(items: &JsValue) -> Result<js_sys::Array, JsValue>;
}

pub fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// `navigator.onLine`: `false` means surely offline; `true` only that the network may be there.
pub fn online() -> bool {
    get(&get(&scope(), "navigator"), "onLine").as_bool().unwrap_or(true)
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// A thrown JS value as readable text (`TypeError: Failed to fetch`).
pub fn describe(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(e.name()), String::from(e.message()));
    }
    value
        .as_string()
        .or_else(|| js_sys::JSON::stringify(value).ok().and_then(|text| text.as_string()))
        .unwrap_or_else(|| "an unnamed error".to_owned())
}

pub fn browser(value: JsValue) -> Error {
    Error::Browser(describe(&value))
}

/// A JS value as JSON text, for the core to parse (`None` for values JSON cannot hold).
pub fn to_json(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string())
}

/// JSON made by the core, as a JS object to post or store.
pub fn from_json(text: &str) -> Result<JsValue, Error> {
    js_sys::JSON::parse(text).map_err(browser)
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<(), Error> {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value).map(drop).map_err(browser)
}

pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

pub fn error(message: &str) {
    web_sys::console::error_1(&JsValue::from_str(message));
}

/// Errors reach JavaScript as `Error` objects with the readable message.
impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}
