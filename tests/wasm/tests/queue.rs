//! The IndexedDB queue, exercised inside a real service worker.
#![cfg(target_arch = "wasm32")]

use offline_sync::coalesce::{self, Fold};
use offline_sync::entry::Entry;
use offline_sync::dead_letter::DeadLetter;
use offline_sync::shell::queue::{Found, Pushed, Queue, Stored};
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

fn entry(n: u32) -> Entry {
    Entry {
        id: None,
        method: "POST".into(),
        url: format!("https://app.example/api/tasks/{n}"),
        headers: vec![("idempotency-key".into(), format!("key-{n}")), ("content-type".into(), "application/octet-stream".into())],
        idempotency_key: format!("key-{n}"),
        record: None,
        credentials: Some("same-origin".into()),
        queued_at: 1_000.0 + f64::from(n),
        attempts: 0,
        refusals: 0,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
    }
}

fn bytes(n: u32) -> js_sys::ArrayBuffer {
    // Every byte value, so nothing is lost to a text conversion on the way.
    let data: Vec<u8> = (0..=255u8).cycle().skip(n as usize).take(300).collect();
    js_sys::Uint8Array::from(data.as_slice()).buffer()
}

fn readable(found: Found) -> Stored {
    match found {
        Found::Entry(stored) => stored,
        Found::Unreadable(e, _) => panic!("unexpected unreadable record: {}", e.0),
    }
}

/// Runs `body` (JS, given `indexedDB` as `factory`) and waits for the promise it returns.
async fn run_js(body: &str) {
    let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    let script = js_sys::Function::new_with_args("factory", body);
    let done = js_sys::Promise::from(script.call1(&wasm_bindgen::JsValue::NULL, &factory).unwrap());
    wasm_bindgen_futures::JsFuture::from(done).await.unwrap();
}

/// Adds records (JS object literals) to a store of a queue straight through IndexedDB, as other
/// code would.
async fn add_by_hand(name: &str, store: &str, records: &[&str]) {
    let adds: String = records.iter().map(|r| format!("tx.objectStore('{store}').add({r});")).collect();
    run_js(&format!(
        "return new Promise((ok, fail) => {{
            const open = factory.open('{name}');
            open.onsuccess = () => {{
                const tx = open.result.transaction('{store}', 'readwrite');
                {adds}
                tx.oncomplete = () => {{ open.result.close(); ok(); }};
                tx.onerror = () => fail(tx.error);
            }};
        }})"
    ))
    .await;
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
        ids.push(push(&queue, &entry(n), Some(&bytes(n))).await);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow in arrival order: {ids:?}");
    assert_eq!(queue.count().await.unwrap(), 5);

    let mut seen = Vec::new();
    let mut after = None;
    while let Some((id, record)) = next_after(&queue, after).await {
        let stored = readable(record);
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
    let id = push(&queue, &entry(3), Some(&bytes(3))).await;
    let no_body = push(&queue, &entry(4), None).await;
    let (first, record) = next_after(&queue, None).await.unwrap();
    let stored = readable(record);
    assert_eq!(first, id);
    assert_eq!(stored.entry.headers, entry(3).headers);
    assert_eq!(stored.entry.idempotency_key, "key-3");
    let got = js_sys::Uint8Array::new(stored.body.as_ref().unwrap()).to_vec();
    assert_eq!(got, js_sys::Uint8Array::new(&bytes(3)).to_vec());
    let (second, record) = next_after(&queue, Some(first)).await.unwrap();
    assert_eq!(second, no_body);
    assert!(readable(record).body.is_none());
}

#[wasm_bindgen_test]
async fn removes_and_updates_in_place() {
    let queue = fresh("test-remove").await;
    let a = push(&queue, &entry(1), None).await;
    let b = push(&queue, &entry(2), None).await;
    let c = push(&queue, &entry(3), None).await;
    queue.remove_all(&[b]).await.unwrap();
    assert_eq!(queue.count().await.unwrap(), 2);

    let (_, record) = next_after(&queue, None).await.unwrap();
    let mut stored = readable(record);
    stored.entry.attempts = 2;
    stored.entry.last_status = Some(503);
    queue.update(&stored).await.unwrap();
    let ids: Vec<Option<u64>> = queue.list().await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![Some(a), Some(c)], "an update keeps the entry's place in line");
    let first = &queue.list().await.unwrap()[0];
    assert_eq!((first.attempts, first.last_status), (2, Some(503)));
}

#[wasm_bindgen_test]
async fn an_update_does_not_bring_back_an_entry_that_left_the_queue() {
    // A queue-first request fails while another worker's replay delivers and removes its entry:
    // the failure noted afterwards must not put the entry back, to be sent again.
    let queue = fresh("test-update-gone").await;
    let id = push(&queue, &entry(1), None).await;
    let (_, record) = next_after(&queue, None).await.unwrap();
    let mut stored = readable(record);
    queue.remove_all(&[id]).await.unwrap();
    stored.entry.last_error = Some("network error: reset".into());
    queue.update(&stored).await.unwrap();
    assert_eq!(queue.count().await.unwrap(), 0);
}

#[wasm_bindgen_test]
async fn survives_reopening() {
    let queue = fresh("test-reopen").await;
    let id = push(&queue, &entry(9), Some(&bytes(9))).await;
    drop(queue);
    let reopened = Queue::open("test-reopen").await.unwrap();
    assert_eq!(reopened.count().await.unwrap(), 1);
    let (found, record) = next_after(&reopened, None).await.unwrap();
    assert_eq!(found, id);
    assert_eq!(readable(record).entry.url, entry(9).url);
}

#[wasm_bindgen_test]
async fn reports_unreadable_records_without_losing_the_rest() {
    let queue = fresh("test-bad-record").await;
    push(&queue, &entry(1), None).await;
    // A record written by hand (DevTools) or by another version, straight through IndexedDB.
    add_by_hand("test-bad-record", "queue", &["{ hello: 'world' }"]).await;
    push(&queue, &entry(2), None).await;

    let (first, record) = next_after(&queue, None).await.unwrap();
    assert!(matches!(record, Found::Entry(_)));
    let (bad, record) = next_after(&queue, Some(first)).await.unwrap();
    assert!(matches!(record, Found::Unreadable(..)), "the hand-written record is reported, not replayed");
    let (_, record) = next_after(&queue, Some(bad)).await.unwrap();
    assert_eq!(readable(record).entry.url, entry(2).url);
    assert_eq!(queue.list().await.unwrap().len(), 2, "list skips the unreadable record");
}

#[wasm_bindgen_test]
async fn files_records_under_foreign_keys_again_so_they_can_be_removed() {
    let queue = fresh("test-foreign-key").await;
    let ours = push(&queue, &entry(1), None).await;
    // Other code writing our store under keys of its own: a string, a fraction.
    add_by_hand("test-foreign-key", "queue", &["{ id: 'by-hand', hello: 'world' }", "{ id: 2.5, hello: 'again' }"]).await;
    let found = queue.read(u32::MAX, &[]).await.unwrap();
    let ids: Vec<u64> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 3, "every record is read: {ids:?}");
    assert_eq!(ids[0], ours);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "the foreign records come last, under new ids: {ids:?}");
    for (id, record) in found.into_iter().skip(1) {
        let Found::Unreadable(e, raw) = record else { panic!("record {id} is not an entry") };
        let letter = DeadLetter { id, reason: e.0, status: None, answer: None, dead_at: 5.0, entry: None };
        queue.bury(&letter, None, Some(&raw)).await.unwrap();
    }
    assert_eq!(queue.counts().await.unwrap(), (1, 2), "both left the queue for the dead letters");
    assert_eq!(readable(queue.read(u32::MAX, &[]).await.unwrap().remove(0).1).entry.url, entry(1).url);
}

#[wasm_bindgen_test]
async fn a_key_beyond_the_generators_range_fails_the_read_and_loses_nothing() {
    let queue = fresh("test-huge-key").await;
    push(&queue, &entry(1), None).await;
    add_by_hand("test-huge-key", "queue", &["{ id: 1e300, hello: 'world' }"]).await;
    assert!(queue.read(u32::MAX, &[]).await.is_err(), "no key can be generated for it");
    assert_eq!(queue.count().await.unwrap(), 2, "both records are still there");
}

#[wasm_bindgen_test]
async fn dead_letters_move_atomically_and_come_back_in_their_old_place() {
    let queue = fresh("test-dead").await;
    let a = push(&queue, &entry(1), Some(&bytes(1))).await;
    let b = push(&queue, &entry(2), None).await;
    let (_, first) = next_after(&queue, None).await.unwrap();
    let mut dead = readable(first).entry;
    dead.attempts = 5;
    dead.refusals = 5;
    let letter = DeadLetter { id: a, reason: "HTTP 503 after 5".into(), status: Some(503), answer: Some("busy".into()), dead_at: 5.0, entry: Some(dead) };
    queue.bury(&letter, Some(&bytes(1)), None).await.unwrap();
    assert_eq!((queue.count().await.unwrap(), queue.counts().await.unwrap().1), (1, 1));
    assert_eq!(queue.dead_letters().await.unwrap(), vec![letter.view()]);

    let revived = queue.revive(a).await.unwrap();
    assert_eq!((revived.id, revived.attempts, revived.refusals, revived.idempotency_key.as_str()), (Some(a), 5, 0, "key-1"));
    assert_eq!((queue.count().await.unwrap(), queue.counts().await.unwrap().1), (2, 0));
    let (id, found) = next_after(&queue, None).await.unwrap();
    assert_eq!(id, a, "a retried dead letter goes back before entries queued after it");
    let body = readable(found).body.unwrap();
    assert_eq!(js_sys::Uint8Array::new(&body).to_vec(), js_sys::Uint8Array::new(&bytes(1)).to_vec());
    assert!(queue.revive(a).await.is_err(), "nothing left to revive");
    assert!(next_after(&queue, Some(a)).await.unwrap().0 == b);
}

#[wasm_bindgen_test]
async fn a_dead_letter_that_does_not_parse_is_listed_and_can_be_discarded() {
    let queue = fresh("test-bad-dead").await;
    add_by_hand("test-bad-dead", "dead", &["{ id: 3, deadAt: 12, reason: 7 }", "{ id: 'by-hand', reason: 'x' }"]).await;
    let listed = queue.dead_letters().await.unwrap();
    assert_eq!(listed.iter().map(|d| (d.id, d.dead_at)).collect::<Vec<_>>(), [(3, None)], "the one under a queue id is listed");
    assert!(listed[0].reason.starts_with("this dead letter could not be read (invalid type"), "{}", listed[0].reason);
    assert!(queue.revive(3).await.is_err(), "it cannot go back in the queue");
    queue.discard(3).await.unwrap();
    assert_eq!(queue.counts().await.unwrap().1, 1, "only the one under a foreign key is left");
}

#[wasm_bindgen_test]
async fn discarding_deletes_only_the_dead_letter_named() {
    let queue = fresh("test-discard").await;
    let a = push(&queue, &entry(1), None).await;
    let letter = DeadLetter { id: a, reason: "r".into(), status: Some(404), answer: None, dead_at: 1.0, entry: Some(entry(1)) };
    queue.bury(&letter, None, None).await.unwrap();
    assert!(queue.discard(a + 100).await.is_err(), "an unknown id is an error, not a silent success");
    queue.discard(a).await.unwrap();
    assert_eq!(queue.counts().await.unwrap().1, 0);
}

#[wasm_bindgen_test]
async fn a_queue_written_by_the_version_1_layout_keeps_every_entry() {
    // Version 1 of the schema, written exactly as the first release did: one store, records
    // without the fields added since (refusals, nextAttemptAt), one with a binary body.
    run_js(
        "return new Promise((ok, fail) => {
            const del = factory.deleteDatabase('test-v1');
            del.onsuccess = () => {
                const open = factory.open('test-v1', 1);
                open.onupgradeneeded = () => open.result.createObjectStore('queue', { keyPath: 'id', autoIncrement: true });
                open.onsuccess = () => {
                    const tx = open.result.transaction('queue', 'readwrite');
                    const store = tx.objectStore('queue');
                    for (let n = 0; n < 3; n++) store.add({
                        method: 'POST', url: 'https://app.example/api/tasks/' + n,
                        headers: [['idempotency-key', 'v1-' + n]], idempotencyKey: 'v1-' + n,
                        credentials: 'same-origin', queuedAt: 1000 + n, attempts: n,
                        lastError: 'network error: Failed to fetch',
                        body: n === 1 ? new Uint8Array([1, 2, 3]).buffer : null,
                    });
                    tx.oncomplete = () => { open.result.close(); ok(); };
                    tx.onerror = () => fail(tx.error);
                };
            };
        })",
    )
    .await;
    let queue = Queue::open("test-v1").await.unwrap();
    let entries = queue.list().await.unwrap();
    let keys: Vec<&str> = entries.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["v1-0", "v1-1", "v1-2"]);
    assert_eq!(entries.iter().map(|e| e.attempts).collect::<Vec<_>>(), [0, 1, 2]);
    let (first, _) = next_after(&queue, None).await.unwrap();
    let (_, second) = next_after(&queue, Some(first)).await.unwrap();
    assert_eq!(js_sys::Uint8Array::new(&readable(second).body.unwrap()).to_vec(), [1, 2, 3]);
    assert_eq!(queue.counts().await.unwrap().1, 0, "the upgrade added the dead-letter store");
}

#[wasm_bindgen_test]
async fn text_bodies_are_stored_as_text_and_come_back_as_the_same_bytes() {
    let queue = fresh("test-text").await;
    let with_type = |n: u32, content_type: &str| Entry {
        headers: vec![("content-type".into(), content_type.into())],
        ..entry(n)
    };
    let json = "\u{feff}{\"title\":\"café ✓\"}".as_bytes().to_vec();
    let invalid = vec![b'{', 0xff, b'}'];
    let cases: Vec<(Entry, Vec<u8>)> = vec![
        (with_type(1, "application/json; charset=utf-8"), json.clone()),
        (with_type(2, "application/octet-stream"), json),
        (with_type(3, "text/plain"), invalid),
    ];
    for (entry, bytes) in &cases {
        push(&queue, entry, Some(&js_sys::Uint8Array::from(bytes.as_slice()).buffer())).await;
    }
    // As DevTools shows them: text where the request said text and the bytes are UTF-8.
    let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    let script = js_sys::Function::new_with_args(
        "factory",
        "return new Promise((ok) => { const open = factory.open('test-text');
            open.onsuccess = () => { const all = open.result.transaction('queue').objectStore('queue').getAll();
                all.onsuccess = () => { open.result.close(); ok(all.result.map((r) => typeof r.body)); }; }; })",
    );
    let kinds = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(script.call1(&wasm_bindgen::JsValue::NULL, &factory).unwrap()))
        .await
        .unwrap();
    let kinds: Vec<String> = js_sys::Array::from(&kinds).iter().filter_map(|k| k.as_string()).collect();
    assert_eq!(kinds, ["string", "object", "object"]);

    let mut after = None;
    for (_, bytes) in &cases {
        let (id, found) = next_after(&queue, after).await.unwrap();
        let body = readable(found).body.unwrap();
        assert_eq!(&js_sys::Uint8Array::new(&body).to_vec(), bytes, "the very same bytes, BOM included");
        after = Some(id);
    }
}

#[wasm_bindgen_test]
async fn push_all_counts_the_waiting_entries_in_the_same_transaction() {
    let queue = fresh("test-push-all").await;
    let first = push(&queue, &entry(0), None).await;
    let (ids, waiting, _) = queue.push_all(&[(entry(1), Some(bytes(1))), (entry(2), None)]).await.unwrap();
    assert_eq!(waiting, 3);
    assert!(first < ids[0] && ids[0] < ids[1], "ids grow in arrival order: {first} {ids:?}");
    let urls: Vec<String> = queue.list().await.unwrap().into_iter().map(|e| e.url).collect();
    assert_eq!(urls, [entry(0).url, entry(1).url, entry(2).url]);
}

#[wasm_bindgen_test]
async fn a_read_deletes_the_delivered_entries_it_is_given_first() {
    let queue = fresh("test-read-removes").await;
    let (ids, _, _) = queue.push_all(&[(entry(1), None), (entry(2), None), (entry(3), None)]).await.unwrap();
    let found = queue.read(10, &ids[..2]).await.unwrap();
    assert_eq!(found.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [ids[2]], "the window starts after them");
    assert_eq!(queue.count().await.unwrap(), 1, "and they are gone for good");
    let again = queue.read(10, &ids[..2]).await.unwrap();
    assert_eq!(again.len(), 1, "deleting what is already gone is no error");
}

#[wasm_bindgen_test]
async fn every_write_and_every_read_moves_the_mark_on_by_one() {
    let queue = fresh("test-marks").await;
    let (_, _, first) = queue.push_all(&[(entry(1), None), (entry(2), None)]).await.unwrap();
    let (_, second) = queue.coalesce(&entry(3), None, 1, |_, _| Fold::Separate).await.unwrap();
    assert_eq!(second, first + 1, "one move for one write, whatever it holds");
    assert_eq!(queue.read(10, &[]).await.unwrap().len(), 3);
    let (_, _, fourth) = queue.push_all(&[(entry(4), None)]).await.unwrap();
    assert_eq!(fourth, second + 2, "the read moved it too");
    let reopened = Queue::open("test-marks").await.unwrap();
    let (_, _, fifth) = reopened.push_all(&[(entry(5), None)]).await.unwrap();
    assert_eq!(fifth, fourth + 1, "kept on disk, for every connection");
}

#[wasm_bindgen_test]
async fn coalescing_reads_the_waiting_entry_and_writes_in_one_transaction() {
    let queue = fresh("test-coalesce").await;
    let on_record = |n: u32, method: &str| Entry { method: method.into(), record: Some("tasks/7".into()), ..entry(n) };
    let json = |text: &str| js_sys::Uint8Array::from(text.as_bytes()).buffer();
    let waiting = push(&queue, &on_record(1, "POST"), Some(&json(r#"{"id":"7","title":"a"}"#))).await;
    // The core's own decision, on the entry as the transaction read it.
    let offer = |new: &Entry, body: &'static [u8]| {
        let new = new.clone();
        move |_: u64, w: Option<(&Entry, Vec<u8>)>| coalesce::fold(w, &new, body)
    };

    let patch = on_record(2, "PATCH");
    let (pushed, _) = queue.coalesce(&patch, Some(&json(r#"{"done":true}"#)), waiting, offer(&patch, br#"{"done":true}"#)).await.unwrap();
    assert!(matches!(pushed, Pushed::Merged(id) if id == waiting));
    let merged = readable(next_after(&queue, None).await.unwrap().1);
    assert_eq!((merged.entry.id, merged.entry.method.as_str(), merged.entry.idempotency_key.as_str()), (Some(waiting), "POST", "key-1"));
    assert_eq!(js_sys::Uint8Array::new(&merged.body.unwrap()).to_vec(), br#"{"id":"7","title":"a","done":true}"#);

    let other = Entry { record: Some("tasks/8".into()), method: "DELETE".into(), ..entry(3) };
    let (added, _) = queue.coalesce(&other, None, waiting, offer(&other, b"")).await.unwrap();
    assert!(matches!(added, Pushed::Added(id) if id > waiting), "another record's entry is queued, not merged");

    let delete = on_record(4, "DELETE");
    let (cancelled, _) = queue.coalesce(&delete, None, waiting, offer(&delete, b"")).await.unwrap();
    assert!(matches!(cancelled, Pushed::Cancelled(id) if id == waiting));
    assert_eq!(queue.count().await.unwrap(), 1);

    let (gone, _) = queue.coalesce(&patch, None, waiting, offer(&patch, br#"{"done":true}"#)).await.unwrap();
    assert!(matches!(gone, Pushed::Added(_)), "the waiting entry is gone: queued on its own");
}

#[wasm_bindgen_test]
async fn a_newer_version_elsewhere_closes_the_connection_and_is_named_when_reopening() {
    let queue = fresh("test-newer").await;
    push(&queue, &entry(1), None).await;
    // Another context upgrades: this connection closes itself so as not to block it.
    run_js(
        "return new Promise((ok, fail) => {
            const open = factory.open('test-newer', 4);
            open.onsuccess = () => { open.result.close(); ok(); };
            open.onerror = () => fail(open.error);
        })",
    )
    .await;
    assert!(queue.is_closed());
    let error = Queue::open("test-newer").await.err().expect("version 3 cannot open version 4");
    assert!(error.to_string().starts_with("storage error: VersionError: "), "{error}");
}
