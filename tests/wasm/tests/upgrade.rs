//! A queue written by the release before serde and indexed_db_futures came back: its records
//! (`tests/fixtures/queue-v2.json`, read out of that worker's IndexedDB) are put back as it left
//! them, and this build must read, replay and extend them as its own.
#![cfg(target_arch = "wasm32")]

use offline_sync::entry::Entry;
use offline_sync::shell::queue::{Found, Queue};
use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

/// One entry appended on its own (the worker's group commit, with nobody else waiting).
async fn push(queue: &Queue, entry: &Entry, body: Option<&js_sys::ArrayBuffer>) -> u64 {
    queue.push_all(&[(entry.clone(), body.cloned())]).await.unwrap().0[0]
}

/// The first record after `after`, readable or not.
async fn next_after(queue: &Queue, after: Option<u64>) -> Option<(u64, Found)> {
    queue.read(u32::MAX, &[]).await.unwrap().into_iter().find(|(id, _)| after.is_none_or(|after| *id > after))
}

wasm_bindgen_test_configure!(run_in_service_worker);

const FIXTURE: &str = include_str!("../../fixtures/queue-v2.json");
const DB: &str = "test-fixture-v2";

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the fixture is JSON")
}

/// A fixture body as the bytes it stood for.
fn bytes(body: &Value) -> Option<Vec<u8>> {
    if let Some(text) = body.get("text") {
        return Some(text.as_str().expect("a text body").as_bytes().to_vec());
    }
    let bytes = body.get("bytes")?.as_array().expect("a byte list");
    Some(bytes.iter().map(|b| b.as_u64().expect("a byte") as u8).collect())
}

/// A fixture record as the JS object IndexedDB held: its members, and the body as a string, an
/// ArrayBuffer or null.
fn record(fields: &Value) -> JsValue {
    let mut members = fields.as_object().expect("a record").clone();
    let body = members.shift_remove("body").unwrap_or(Value::Null);
    let object = js_sys::JSON::parse(&Value::Object(members).to_string()).unwrap();
    let stored = match (body.get("text"), bytes(&body)) {
        (Some(text), _) => JsValue::from_str(text.as_str().unwrap()),
        (None, Some(bytes)) => js_sys::Uint8Array::from(bytes.as_slice()).buffer().into(),
        (None, None) => JsValue::NULL,
    };
    js_sys::Reflect::set(&object, &"body".into(), &stored).unwrap();
    object
}

/// Writes the fixture into a fresh database with schema v2, as the old worker had made it.
async fn restore() {
    let fixture = fixture();
    let records = |store: &str| -> js_sys::Array { fixture[store].as_array().unwrap().iter().map(record).collect() };
    let script = js_sys::Function::new_with_args(
        "name, queue, dead",
        "return new Promise((ok, fail) => {
            const gone = indexedDB.deleteDatabase(name);
            gone.onerror = () => fail(gone.error);
            gone.onsuccess = () => {
                const open = indexedDB.open(name, 2);
                open.onupgradeneeded = () => {
                    open.result.createObjectStore('queue', { keyPath: 'id', autoIncrement: true });
                    open.result.createObjectStore('dead', { keyPath: 'id' });
                };
                open.onerror = () => fail(open.error);
                open.onsuccess = () => {
                    const tx = open.result.transaction(['queue', 'dead'], 'readwrite');
                    queue.forEach((r) => tx.objectStore('queue').put(r));
                    dead.forEach((r) => tx.objectStore('dead').put(r));
                    tx.oncomplete = () => { open.result.close(); ok(); };
                    tx.onerror = () => fail(tx.error);
                };
            };
        })",
    );
    let done = script.call3(&JsValue::NULL, &DB.into(), &records("queue"), &records("dead")).unwrap();
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(done)).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_queue_written_by_the_release_before_reads_replays_and_grows() {
    restore().await;
    let fixture = fixture();
    let queue = Queue::open(DB).await.unwrap();

    // Every waiting record reads, with the same fields and the same body bytes.
    let waiting = queue.read(100, &[]).await.unwrap();
    let expected = fixture["queue"].as_array().unwrap();
    assert_eq!(waiting.len(), expected.len());
    for ((id, found), old) in waiting.into_iter().zip(expected) {
        let Found::Entry(stored) = found else { panic!("record {id} no longer reads") };
        assert_eq!(Some(id), old["id"].as_u64());
        let mut fields = old.as_object().unwrap().clone();
        let body = fields.shift_remove("body").unwrap();
        let written: Value = serde_json::from_str(&stored.entry.to_json()).unwrap();
        assert_eq!(written, Value::Object(fields), "record {id} is written back as it was");
        let got = stored.body.as_ref().map(|b| js_sys::Uint8Array::new(b).to_vec());
        assert_eq!(got, bytes(&body), "record {id}'s body");
    }
    let retried = queue.list().await.unwrap().into_iter().find(|e| e.last_status == Some(503)).unwrap();
    assert_eq!((retried.attempts, retried.refusals), (1, 1));
    assert!(retried.next_attempt_at.is_some());

    // The dead letters: one with its entry, one whose record never read.
    let letters = queue.dead_letters().await.unwrap();
    assert_eq!(letters.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!((letters[0].status, letters[0].method.as_deref()), (Some(400), Some("POST")));
    assert!(letters[1].method.is_none() && letters[1].reason.starts_with("unreadable queue record"));

    // Retried, the old dead letter goes back in its place with its body; a new entry follows the
    // old ones.
    let revived = queue.revive(1).await.unwrap();
    assert_eq!(Some(revived.idempotency_key.as_str()), fixture["dead"][0]["entry"]["idempotencyKey"].as_str());
    let Some((1, Found::Entry(first))) = next_after(&queue, None).await else { panic!("the revived entry heads the queue") };
    let dead_body = bytes(&fixture["dead"][0]["body"]);
    assert_eq!(first.body.map(|b| js_sys::Uint8Array::new(&b).to_vec()), dead_body);
    let new = offline_sync::entry::Entry { id: None, idempotency_key: "new-key".into(), ..revived };
    let id = push(&queue, &new, None).await;
    let last = expected.iter().filter_map(|r| r["id"].as_u64()).max().unwrap();
    assert!(id > last, "new ids follow the old ones ({id} after {last})");
}
