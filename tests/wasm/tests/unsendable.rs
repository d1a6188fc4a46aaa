//! An entry no request can be made of (a stored header the browser refuses) becomes a dead
//! letter, instead of stopping the queue behind it for good.
#![cfg(target_arch = "wasm32")]

mod common;

use offline_sync::shell::exports::{handle_sync, start};
use offline_sync::shell::queue::{Queue, DB_NAME};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
async fn an_entry_with_a_header_the_browser_refuses_is_buried() {
    start(JsValue::from_str("?syncTag=unsendable-tag"));
    let queue = Queue::open(DB_NAME).await.unwrap();
    let entry = common::waiting("http://127.0.0.1:9/api/never", "k-unsendable", vec![("bad name".into(), "x".into())]);
    let id = common::push(&queue, &entry).await;

    let outcome = JsFuture::from(handle_sync("unsendable-tag".into()).unwrap()).await;
    assert!(outcome.is_ok(), "the run ends well: nothing in it met the network ({outcome:?})");
    assert!(queue.list().await.unwrap().is_empty(), "it no longer heads the queue");
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert!(dead[0].reason.starts_with("it could not be sent as stored"), "{}", dead[0].reason);
}
