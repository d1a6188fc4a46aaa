//! Replay as the browser drives it, inside a real service worker.
#![cfg(target_arch = "wasm32")]

mod common;

use offline_sync::shell::exports::{handle_sync, start};
use offline_sync::shell::queue::{Queue, DB_NAME};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
async fn a_sync_event_fails_while_the_server_is_unreachable_and_the_entry_stays_first() {
    start(JsValue::from_str("?syncTag=test-tag"));
    let queue = Queue::open(DB_NAME).await.unwrap();
    // Port 9 on the loopback address refuses connections: a network failure, not an HTTP answer.
    let entry = common::waiting("http://127.0.0.1:9/api/unreachable", "k-unreachable", Vec::new());
    let id = common::push(&queue, &entry).await;

    assert!(handle_sync("someone-elses-tag".into()).is_none(), "other tags are left to their owners");
    let outcome = JsFuture::from(handle_sync("test-tag".into()).unwrap()).await;
    let error = outcome.expect_err("the sync event's promise rejects, so the browser retries it later");
    let message = js_sys::Error::from(error).message();
    assert!(String::from(message).contains("network error"));

    let left = queue.list().await.unwrap();
    assert_eq!(left.len(), 1);
    // Three network failures in a row (with back-off between them) end the replay.
    assert_eq!((left[0].id, left[0].attempts, left[0].refusals), (Some(id), 3, 0));
    assert!(left[0].next_attempt_at.is_some(), "the next attempt is scheduled");
    assert!(left[0].last_error.as_deref().unwrap_or_default().starts_with("network error"));
}
