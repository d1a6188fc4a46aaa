//! The IndexedDB retry queue and its dead letters: one record per mutation, body bytes kept as-is.
//!
//! Schema history (each version upgrades from any older one, keeping every record):
//! 1. store `queue`, key path `id`, auto-increment.
//! 2. adds store `dead` (key path `id`): entries given up on, under their queue id.

use crate::prelude::*;
use super::idb::{self, storage, Tx};
use super::js;
use crate::coalesce::Merge;
use crate::dead_letter::DeadLetter;
use crate::entry::{header, is_text, Entry, RecordError};
use crate::error::Error;
use js_sys::{Array, ArrayBuffer};
use core::cell::Cell;
use alloc::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbKeyRange, IdbObjectStore, IdbObjectStoreParameters, IdbRequest};

pub const DB_NAME: &str = "offline-sync";
const DB_VERSION: u32 = 2;
const QUEUE: &str = "queue";
const DEAD: &str = "dead";

/// A stored mutation: its plain description and its body.
pub struct Stored {
    pub entry: Entry,
    pub body: Option<ArrayBuffer>,
}

/// What became of a mutation offered to `coalesce`.
pub enum Pushed {
    /// Queued as its own entry.
    Added(u64),
    /// Merged into this waiting entry.
    Merged(u64),
    /// It deleted what this waiting entry creates: both are gone.
    Cancelled(u64),
}

/// What `next_after` found at a position in the queue.
pub enum Found {
    Entry(Stored),
    /// A record that cannot be replayed, with the raw value so it can be kept for a person to see.
    Unreadable(RecordError, JsValue),
}

pub struct Queue {
    db: IdbDatabase,
    /// Set when another context (a newer worker, DevTools) needs the database: this connection
    /// closed itself so as not to block that upgrade or deletion, and must be reopened.
    closed: Rc<Cell<bool>>,
    /// Writes that may have added entries so far, and how many there had been when the queue was
    /// last found empty: while the two agree, an online answer need not look at the queue.
    additions: Cell<u64>,
    empty_after: Cell<Option<u64>>,
}

impl Queue {
    pub async fn open(name: &str) -> Result<Queue, Error> {
        let db = idb::open(name, DB_VERSION, |db, old| {
            if old < 1.0 {
                db.create_object_store_with_optional_parameters(QUEUE, &keyed_by_id(true))?;
            }
            if old < 2.0 {
                db.create_object_store_with_optional_parameters(DEAD, &keyed_by_id(false))?;
            }
            Ok(())
        })
        .await?;
        let closed = Rc::new(Cell::new(false));
        let on_change = {
            let (db, closed) = (db.clone(), closed.clone());
            Closure::<dyn FnMut()>::new(move || {
                db.close();
                closed.set(true);
            })
        };
        db.set_onversionchange(Some(on_change.into_js_value().unchecked_ref()));
        Ok(Queue { db, closed, additions: Cell::new(0), empty_after: Cell::new(None) })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Appends a mutation; resolves with its id only once the transaction is durably committed.
    pub async fn push(&self, entry: &Entry, body: Option<&ArrayBuffer>) -> Result<u64, Error> {
        self.note_addition();
        let record = to_record(&entry.to_json(), Some(entry), body)?;
        let tx = self.write(&[QUEUE])?;
        let added = tx.store(QUEUE)?.add(&record).map_err(storage)?;
        tx.commit().await?;
        number(&added)
    }

    /// The latest readable entry for each record key, for coalescing.
    pub async fn records(&self) -> Result<Vec<(String, u64)>, Error> {
        Ok(self.list().await?.into_iter().filter_map(|e| Some((e.record?, e.id?))).collect())
    }

    /// Appends several mutations in one transaction (group commit): all are committed, or none.
    /// Also gives the number of waiting entries once they are in, counted in the same transaction.
    pub async fn push_all(&self, entries: &[(Entry, Option<ArrayBuffer>)]) -> Result<(Vec<u64>, u32), Error> {
        self.note_addition();
        let records = entries
            .iter()
            .map(|(entry, body)| to_record(&entry.to_json(), Some(entry), body.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.write(&[QUEUE])?;
        let store = tx.store(QUEUE)?;
        let added = records.iter().map(|record| store.add(record).map_err(storage)).collect::<Result<Vec<_>, _>>()?;
        let pending = store.count().map_err(storage)?;
        tx.commit().await?;
        let ids = added.iter().map(number).collect::<Result<_, _>>()?;
        Ok((ids, number(&pending)? as u32))
    }

    /// Queues `entry`, or merges it into `waiting` (the latest entry on the same record) as `decide`
    /// says, all in one transaction.
    pub async fn coalesce(
        &self,
        entry: &Entry,
        body: Option<&ArrayBuffer>,
        waiting: u64,
        decide: impl FnOnce(&Entry, Vec<u8>) -> Merge,
    ) -> Result<Pushed, Error> {
        self.note_addition();
        let tx = self.write(&[QUEUE])?;
        let store = tx.store(QUEUE)?;
        // Only this request is awaited before the writes: anything else would end the transaction.
        let found = idb::request(store.get(&key(waiting))).await?;
        let current = from_record(&found).ok().filter(|s| s.entry.record == entry.record);
        let outcome = match current {
            None => Merge::Separate,
            Some(ref stored) => decide(&stored.entry, stored.body.as_ref().map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default()),
        };
        let pushed = match (outcome, current) {
            (Merge::Into { method, body: merged, take_new_headers }, Some(mut stored)) => {
                stored.entry.method = method;
                if take_new_headers {
                    stored.entry.headers = entry.headers.clone();
                    stored.entry.idempotency_key = entry.idempotency_key.clone();
                }
                let merged = (!merged.is_empty()).then(|| js_sys::Uint8Array::from(merged.as_slice()).buffer());
                let record = to_record(&stored.entry.to_json(), Some(&stored.entry), merged.as_ref())?;
                store.put(&record).map_err(storage)?;
                Pushed::Merged(waiting)
            }
            (Merge::Cancel, Some(_)) => {
                store.delete(&key(waiting)).map_err(storage)?;
                Pushed::Cancelled(waiting)
            }
            _ => {
                let record = to_record(&entry.to_json(), Some(entry), body)?;
                let added = store.add(&record).map_err(storage)?;
                tx.commit().await?;
                return number(&added).map(Pushed::Added);
            }
        };
        tx.commit().await?;
        Ok(pushed)
    }

    /// Rewrites an entry in place (attempts, last status), keeping its id and so its place in line.
    pub async fn update(&self, stored: &Stored) -> Result<(), Error> {
        let record = to_record(&stored.entry.to_json(), Some(&stored.entry), stored.body.as_ref())?;
        let tx = self.write_relaxed(&[QUEUE])?;
        tx.store(QUEUE)?.put(&record).map_err(storage)?;
        tx.commit().await
    }

    pub async fn remove(&self, id: u64) -> Result<(), Error> {
        self.remove_all(&[id]).await
    }

    pub async fn count(&self) -> Result<u32, Error> {
        self.count_in(QUEUE).await
    }

    /// Whether entries may be waiting: false only while no write since the queue was last found
    /// empty (by `waiting`) could have added one.
    pub fn may_hold_entries(&self) -> bool {
        self.empty_after.get() != Some(self.additions.get())
    }

    /// The number of waiting entries, remembering an empty queue for `may_hold_entries`.
    pub async fn waiting(&self) -> Result<u32, Error> {
        let additions = self.additions.get();
        let count = self.count().await?;
        if count == 0 {
            self.empty_after.set(Some(additions));
        }
        Ok(count)
    }

    fn note_addition(&self) {
        self.additions.set(self.additions.get() + 1);
    }

    pub async fn dead_count(&self) -> Result<u32, Error> {
        self.count_in(DEAD).await
    }

    /// Waiting entries and dead letters, read in one transaction.
    pub async fn counts(&self) -> Result<(u32, u32), Error> {
        let tx = idb::read(&self.db, &[QUEUE, DEAD])?;
        let queued = idb::request(tx.object_store(QUEUE).and_then(|s| s.count()));
        let dead = idb::request(tx.object_store(DEAD).and_then(|s| s.count()));
        Ok((numeric(queued.await?)? as u32, numeric(dead.await?)? as u32))
    }

    /// The first record after `after` in queue order, readable or not.
    pub async fn next_after(&self, after: Option<u64>) -> Result<Option<(u64, Found)>, Error> {
        Ok(self.next_many(after, 1).await?.into_iter().next())
    }

    /// Up to `limit` records after `after`, in queue order, read in one transaction.
    pub async fn next_many(&self, after: Option<u64>, limit: u32) -> Result<Vec<(u64, Found)>, Error> {
        let range = IdbKeyRange::lower_bound_with_open(&key(after.unwrap_or(0)), after.is_some()).map_err(storage)?;
        let records = idb::request(self.read(QUEUE)?.get_all_with_key_and_limit(&range, limit)).await?;
        Ok(Array::from(&records)
            .iter()
            .map(|record| {
                let id = js::get(&record, "id").as_f64().map(|k| k as u64).unwrap_or_default();
                match from_record(&record) {
                    Ok(stored) => (id, Found::Entry(stored)),
                    Err(e) => (id, Found::Unreadable(e, record)),
                }
            })
            .collect())
    }

    /// Removes delivered entries in one transaction.
    pub async fn remove_all(&self, ids: &[u64]) -> Result<(), Error> {
        let tx = self.write_relaxed(&[QUEUE])?;
        let store = tx.store(QUEUE)?;
        for id in ids {
            store.delete(&key(*id)).map_err(storage)?;
        }
        tx.commit().await
    }

    /// Every readable entry in queue order.
    pub async fn list(&self) -> Result<Vec<Entry>, Error> {
        let records = self.all(QUEUE).await?;
        Ok(records.iter().filter_map(|r| from_record(&r).ok()).map(|s| s.entry).collect())
    }

    /// Moves a queue record to the dead letters, in one transaction: it is never in both or neither.
    /// `raw` is kept beside an unreadable record, so a person can still see what it held.
    pub async fn bury(&self, letter: &DeadLetter, body: Option<&ArrayBuffer>, raw: Option<&JsValue>) -> Result<(), Error> {
        let record = to_record(&letter.to_json(), letter.entry.as_ref(), body)?;
        if let Some(raw) = raw {
            js::set(&record, "raw", raw)?;
        }
        let tx = self.write_relaxed(&[QUEUE, DEAD])?;
        tx.store(QUEUE)?.delete(&key(letter.id)).map_err(storage)?;
        tx.store(DEAD)?.put(&record).map_err(storage)?;
        tx.commit().await
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, Error> {
        let records = self.all(DEAD).await?;
        Ok(records.iter().filter_map(|r| js::to_json(&r).and_then(|t| DeadLetter::from_json(&t))).collect())
    }

    /// Puts a dead letter back in the queue under its old id (its original place in line).
    pub async fn revive(&self, id: u64) -> Result<Entry, Error> {
        self.note_addition();
        let tx = self.write(&[QUEUE, DEAD])?;
        let dead = tx.store(DEAD)?;
        let record = idb::request(dead.get(&key(id))).await?;
        if record.is_undefined() {
            return Err(Error::Record(RecordError(format!("there is no dead letter {id}"))));
        }
        let letter = js::to_json(&record)
            .and_then(|t| DeadLetter::from_json(&t))
            .ok_or_else(|| Error::Record(RecordError(format!("dead letter {id} is unreadable"))))?;
        let entry = letter
            .revived()
            .ok_or_else(|| Error::Record(RecordError(format!("dead letter {id} was an unreadable record; discard it"))))?;
        let body = body_of(&record).map_err(Error::Record)?;
        let queued = to_record(&entry.to_json(), Some(&entry), body.as_ref())?;
        tx.store(QUEUE)?.put(&queued).map_err(storage)?;
        dead.delete(&key(id)).map_err(storage)?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Deletes a dead letter for good.
    pub async fn discard(&self, id: u64) -> Result<(), Error> {
        let tx = self.write(&[DEAD])?;
        let dead = tx.store(DEAD)?;
        if numeric(idb::request(dead.count_with_key(&key(id))).await?)? == 0 {
            return Err(Error::Record(RecordError(format!("there is no dead letter {id}"))));
        }
        dead.delete(&key(id)).map_err(storage)?;
        tx.commit().await
    }

    async fn count_in(&self, store: &str) -> Result<u32, Error> {
        Ok(numeric(idb::request(self.read(store)?.count()).await?)? as u32)
    }

    async fn all(&self, store: &str) -> Result<Array, Error> {
        Ok(idb::request(self.read(store)?.get_all()).await?.unchecked_into())
    }

    /// One store, in a read-only transaction of its own.
    fn read(&self, store: &str) -> Result<IdbObjectStore, Error> {
        idb::read(&self.db, &[store])?.object_store(store).map_err(storage)
    }

    /// For what a page was promised (a 202 means the entry is on disk): flushed before it resolves.
    fn write(&self, stores: &[&str]) -> Result<Tx, Error> {
        Tx::write(&self.db, stores, "strict")
    }

    /// For book-keeping whose loss in a crash only means a resend under the same key (a removal
    /// after delivery, an attempt noted, a move to dead letters): no flush to wait for.
    fn write_relaxed(&self, stores: &[&str]) -> Result<Tx, Error> {
        Tx::write(&self.db, stores, "relaxed")
    }
}

/// The object store options both stores share: records keyed by their `id` member.
fn keyed_by_id(auto_increment: bool) -> IdbObjectStoreParameters {
    let options = IdbObjectStoreParameters::new();
    options.set_key_path(&JsValue::from_str("id"));
    options.set_auto_increment(auto_increment);
    options
}

/// An id as an IndexedDB key: a JS number (a `u64` would cross as a BigInt, a different key).
fn key(id: u64) -> JsValue {
    JsValue::from_f64(id as f64)
}

/// A finished request's numeric result: the key `add` gave, or a count.
fn number(request: &IdbRequest) -> Result<u64, Error> {
    numeric(request.result().map_err(storage)?)
}

/// A stored body as bytes, whichever way it was kept.
fn body_of(record: &JsValue) -> Result<Option<ArrayBuffer>, RecordError> {
    let body = js::get(record, "body");
    if body.is_null() || body.is_undefined() {
        return Ok(None);
    }
    if let Some(text) = body.as_string() {
        return Ok(Some(js_sys::Uint8Array::from(text.as_bytes()).buffer()));
    }
    body.dyn_into::<ArrayBuffer>().map(Some).map_err(|_| RecordError("queue record body is not bytes".into()))
}

fn numeric(value: JsValue) -> Result<u64, Error> {
    value.as_f64().map(|n| n as u64).ok_or_else(|| Error::Storage("the store returned a non-numeric key or count".into()))
}

/// A record is the core's JSON as an object, plus `body`: a string when the request declared a
/// text type and its bytes are UTF-8 (readable in DevTools; sent back as the same bytes), else an
/// ArrayBuffer, or null.
fn to_record(json: &str, entry: Option<&Entry>, body: Option<&ArrayBuffer>) -> Result<JsValue, Error> {
    let object = js::from_json(json)?;
    let content_type = entry.and_then(|e| header(&e.headers, "content-type"));
    let stored = match body {
        None => JsValue::NULL,
        Some(bytes) if is_text(content_type) => match String::from_utf8(js_sys::Uint8Array::new(bytes).to_vec()) {
            Ok(text) => JsValue::from_str(&text),
            Err(_) => bytes.into(),
        },
        Some(bytes) => bytes.into(),
    };
    js::set(&object, "body", &stored)?;
    Ok(object)
}

fn from_record(record: &JsValue) -> Result<Stored, RecordError> {
    let text = js::to_json(record).ok_or_else(|| RecordError("queue record is not an object".into()))?;
    let entry = Entry::from_json(&text)?;
    Ok(Stored { entry, body: body_of(record)? })
}
