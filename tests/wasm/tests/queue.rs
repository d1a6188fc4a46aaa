//! The IndexedDB queue, exercised inside a real service worker.
#![cfg(target_arch = "wasm32")]

use offline_sync::entry::Entry;
use offline_sync::shell::queue::Queue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

fn entry(n: u32) -> Entry {
    Entry {
        id: None,
        method: "POST".into(),
        url: format!("https://app.example/api/tasks/{n}"),
        headers: vec![("idempotency-key".into(), format!("key-{n}")), ("content-type".into(), "application/octet-stream".into())],
        idempotency_key: format!("key-{n}"),
        credentials: Some("same-origin".into()),
        queued_at: 1_000.0 + f64::from(n),
        attempts: 0,
        last_status: None,
        last_error: None,
    }
}

fn bytes(n: u32) -> js_sys::ArrayBuffer {
    // Every byte value, so nothing is lost to a text conversion on the way.
    let data: Vec<u8> = (0..=255u8).cycle().skip(n as usize).take(300).collect();
    js_sys::Uint8Array::from(data.as_slice()).buffer()
}

async fn fresh(name: &str) -> Queue {
    let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    let delete = js_sys::Reflect::get(&factory, &"deleteDatabase".into()).unwrap();
    let request = js_sys::Function::from(delete).call1(&factory, &name.into()).unwrap();
    // Wait for the deletion to finish before reopening.
    let done = js_sys::Promise::new(&mut |resolve, _| {
        js_sys::Reflect::set(&request, &"onsuccess".into(), &resolve).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(done).await.unwrap();
    Queue::open(name).await.unwrap()
}

#[wasm_bindgen_test]
async fn appends_in_order_and_counts() {
    let queue = fresh("test-order").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(queue.push(&entry(n), Some(&bytes(n))).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow in arrival order: {ids:?}");
    assert_eq!(queue.count().await.unwrap(), 5);

    let mut seen = Vec::new();
    let mut after = None;
    while let Some((id, record)) = queue.next_after(after).await.unwrap() {
        let stored = record.unwrap();
        assert_eq!(stored.entry.id, Some(id));
        seen.push(stored.entry.url.clone());
        after = Some(id);
    }
    let expected: Vec<String> = (0..5).map(|n| entry(n).url).collect();
    assert_eq!(seen, expected);
    let listed: Vec<String> = queue.list().await.unwrap().into_iter().map(|e| e.url).collect();
    assert_eq!(listed, expected);
}

#[wasm_bindgen_test]
async fn keeps_body_bytes_and_headers_exactly() {
    let queue = fresh("test-bytes").await;
    let id = queue.push(&entry(3), Some(&bytes(3))).await.unwrap();
    let no_body = queue.push(&entry(4), None).await.unwrap();
    let (first, record) = queue.next_after(None).await.unwrap().unwrap();
    let stored = record.unwrap();
    assert_eq!(first, id);
    assert_eq!(stored.entry.headers, entry(3).headers);
    assert_eq!(stored.entry.idempotency_key, "key-3");
    let got = js_sys::Uint8Array::new(stored.body.as_ref().unwrap()).to_vec();
    assert_eq!(got, js_sys::Uint8Array::new(&bytes(3)).to_vec());
    let (second, record) = queue.next_after(Some(first)).await.unwrap().unwrap();
    assert_eq!(second, no_body);
    assert!(record.unwrap().body.is_none());
}

#[wasm_bindgen_test]
async fn removes_and_updates_in_place() {
    let queue = fresh("test-remove").await;
    let a = queue.push(&entry(1), None).await.unwrap();
    let b = queue.push(&entry(2), None).await.unwrap();
    let c = queue.push(&entry(3), None).await.unwrap();
    queue.remove(b).await.unwrap();
    assert_eq!(queue.count().await.unwrap(), 2);

    let (_, record) = queue.next_after(None).await.unwrap().unwrap();
    let mut stored = record.unwrap();
    stored.entry.attempts = 2;
    stored.entry.last_status = Some(503);
    queue.update(&stored).await.unwrap();
    let ids: Vec<Option<u64>> = queue.list().await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![Some(a), Some(c)], "an update keeps the entry's place in line");
    let first = &queue.list().await.unwrap()[0];
    assert_eq!((first.attempts, first.last_status), (2, Some(503)));
}

#[wasm_bindgen_test]
async fn survives_reopening() {
    let queue = fresh("test-reopen").await;
    let id = queue.push(&entry(9), Some(&bytes(9))).await.unwrap();
    drop(queue);
    let reopened = Queue::open("test-reopen").await.unwrap();
    assert_eq!(reopened.count().await.unwrap(), 1);
    let (found, record) = reopened.next_after(None).await.unwrap().unwrap();
    assert_eq!(found, id);
    assert_eq!(record.unwrap().entry.url, entry(9).url);
}

#[wasm_bindgen_test]
async fn reports_unreadable_records_without_losing_the_rest() {
    let queue = fresh("test-bad-record").await;
    queue.push(&entry(1), None).await.unwrap();
    // A record written by hand (DevTools) or by another version, straight through IndexedDB.
    let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    let script = js_sys::Function::new_with_args(
        "factory",
        "return new Promise((ok, fail) => {
            const open = factory.open('test-bad-record');
            open.onsuccess = () => {
                const tx = open.result.transaction('queue', 'readwrite');
                tx.objectStore('queue').add({ hello: 'world' });
                tx.oncomplete = () => { open.result.close(); ok(); };
                tx.onerror = () => fail(tx.error);
            };
        })",
    );
    let written = js_sys::Promise::from(script.call1(&wasm_bindgen::JsValue::NULL, &factory).unwrap());
    wasm_bindgen_futures::JsFuture::from(written).await.unwrap();
    queue.push(&entry(2), None).await.unwrap();

    let (first, record) = queue.next_after(None).await.unwrap().unwrap();
    assert!(record.is_ok());
    let (bad, record) = queue.next_after(Some(first)).await.unwrap().unwrap();
    assert!(record.is_err(), "the hand-written record is reported, not replayed");
    let (_, record) = queue.next_after(Some(bad)).await.unwrap().unwrap();
    assert_eq!(record.unwrap().entry.url, entry(2).url);
    assert_eq!(queue.list().await.unwrap().len(), 2, "list skips the unreadable record");
}
