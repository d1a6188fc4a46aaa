//! A request whose headers cannot be read as pairs (`Array.from` throws): the page hears why, and
//! the worker goes on keeping requests.
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect};
use offline_sync::shell::exports::{handle_fetch, start};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

/// A POST to a port where nothing listens: it fails, so the worker keeps it, and reads its headers.
fn post_nowhere() -> web_sys::Request {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str("{}"));
    web_sys::Request::new_with_str_and_init("http://127.0.0.1:9/api/headers", &init).unwrap()
}

#[wasm_bindgen_test]
async fn headers_that_cannot_be_read_fail_the_request_with_the_reason() {
    start(JsValue::from_str("?syncTag=headers-tag"));
    let array = Reflect::get(&js_sys::global(), &"Array".into()).unwrap();
    let from = Reflect::get(&array, &"from".into()).unwrap();
    let throwing = Function::new_no_args("throw new Error('no pairs for the test')");
    Reflect::set(&array, &"from".into(), &throwing).unwrap();
    let outcome = JsFuture::from(handle_fetch(post_nowhere())).await;
    Reflect::set(&array, &"from".into(), &from).unwrap();
    let error = outcome.expect_err("a request whose headers cannot be read is not kept");
    let message = js_sys::Error::from(error).message();
    assert!(String::from(message.clone()).contains("no pairs for the test"), "{message:?}");

    let kept = JsFuture::from(handle_fetch(post_nowhere())).await.expect("the next one is kept");
    assert_eq!(kept.unchecked_into::<web_sys::Response>().status(), 202);
}
