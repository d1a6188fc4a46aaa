//! A browser that refuses the replay's Web Lock: the replay runs without it, and the next one too.
#![cfg(target_arch = "wasm32")]

use js_sys::{Object, Promise, Reflect};
use offline_sync::shell::exports::{handle_sync, start};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
async fn a_refused_lock_leaves_the_replay_to_run_without_it() {
    let global: JsValue = js_sys::global().into();
    let locks = Reflect::get(&Reflect::get(&global, &"navigator".into()).unwrap(), &"locks".into()).unwrap();
    if locks.is_undefined() {
        return; // No Web Locks here: the replay never asks for one.
    }
    let refuse = Closure::<dyn Fn() -> Promise>::new(|| Promise::reject(&js_sys::Error::new("refused for the test").into()));
    let descriptor = Object::new();
    Reflect::set(&descriptor, &"value".into(), refuse.as_ref()).unwrap();
    Object::define_property(&locks.into(), &"request".into(), &descriptor);
    refuse.forget();

    start(JsValue::from_str("?syncTag=lock-tag"));
    // The queue is empty: each replay ends well at once, once it runs at all.
    for n in 1..=2 {
        let outcome = JsFuture::from(handle_sync("lock-tag".into()).expect("offline-sync's tag")).await;
        assert!(outcome.is_ok(), "replay {n} ran without the lock: {outcome:?}");
    }
}
