//! The IndexedDB retry queue and its dead letters: one record per mutation, body bytes kept as-is.
//!
//! Schema history (each version upgrades from any older one, keeping every record):
//! 1. store `queue`, key path `id`, auto-increment.
//! 2. adds store `dead` (key path `id`): entries given up on, under their queue id.
//! 3. adds store `meta` (auto-increment): its key generator is the queue's mark (`State::fold`).

use super::js;
use crate::coalesce::Fold;
use crate::dead_letter::{DeadLetter, DeadLetterView};
use crate::entry::{header, is_text, queue_id, Entry, RecordError};
use crate::error::Error;
use crate::state::Mark;
use indexed_db_futures::database::Database;
use indexed_db_futures::error::{self as idb, DomException, OpenDbError};
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{Transaction, TransactionDurability, TransactionMode, TransactionOptions};
use js_sys::ArrayBuffer;
use indexed_db_futures::internals::SystemRepr;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

pub const DB_NAME: &str = "offline-sync";
const DB_VERSION: u32 = 3;
const QUEUE: &str = "queue";
const DEAD: &str = "dead";
const META: &str = "meta";

/// A stored mutation: its plain description and its body.
pub struct Stored {
    pub entry: Entry,
    pub body: Option<ArrayBuffer>,
}

pub use crate::coalesce::Pushed;

/// What `read` found at a position in the queue.
pub enum Found {
    Entry(Stored),
    /// A record that cannot be replayed, with the raw value so it can be kept for a person to see.
    Unreadable(RecordError, JsValue),
}

pub struct Queue {
    db: Database,
    /// Set when another context (a newer worker, DevTools) needs the database: this connection
    /// closed itself so as not to block that upgrade or deletion, and must be reopened.
    closed: Rc<Cell<bool>>,
    /// Writes on this connection that may have added entries (see `State::may_hold_entries`).
    additions: Cell<u64>,
}

/// What IndexedDB refused, as text: a DOMException as `name: message` (`QuotaExceededError: …`).
fn storage(e: impl Into<OpenDbError>) -> Error {
    let named = |e: &DomException| format!("{}: {}", e.as_sys().name(), e.message());
    Error::Storage(match e.into() {
        OpenDbError::Base(idb::Error::DomException(e)) => named(&e),
        other => other.to_string(),
    })
}

impl Queue {
    pub async fn open(name: &str) -> Result<Queue, Error> {
        let db = Database::open(name)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                let old = event.old_version();
                if old < 1.0 {
                    db.create_object_store(QUEUE).with_key_path("id".into()).with_auto_increment(true).build()?;
                }
                if old < 2.0 {
                    db.create_object_store(DEAD).with_key_path("id".into()).build()?;
                }
                if old < 3.0 {
                    db.create_object_store(META).with_auto_increment(true).build()?;
                }
                Ok(())
            })
            .await
            .map_err(storage)?;
        let closed = Rc::new(Cell::new(false));
        let raw: web_sys::IdbDatabase = db.as_sys().clone().unchecked_into();
        let on_change = {
            let (raw, closed) = (raw.clone(), closed.clone());
            Closure::<dyn FnMut()>::new(move || {
                raw.close();
                closed.set(true);
            })
        };
        raw.set_onversionchange(Some(on_change.into_js_value().unchecked_ref()));
        Ok(Queue { db, closed, additions: Cell::new(0) })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Appends several mutations in one transaction (group commit): all are committed, or none.
    /// Also gives the number of waiting entries once they are in, counted in the same transaction,
    /// and the mark it left.
    pub async fn push_all(&self, entries: &[(Entry, Option<ArrayBuffer>)]) -> Result<(Vec<u64>, u32, Mark), Error> {
        self.note_addition();
        let tx = self.write(&[QUEUE, META])?;
        let mark = next_mark(&tx)?;
        let store = tx.object_store(QUEUE).map_err(storage)?;
        let mut keys = Vec::with_capacity(entries.len());
        for (entry, body) in entries {
            let record = to_record(&entry.to_json(), Some(entry), body.as_ref())?;
            keys.push(store.add(record).with_key_type::<JsValue>().primitive().map_err(storage)?);
        }
        let pending = store.count().primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            ids.push(numeric(key.await.map_err(storage)?)?);
        }
        Ok((ids, pending.await.map_err(storage)?, numeric(mark.await.map_err(storage)?)?))
    }

    /// Queues `entry`, or folds it into `waiting` (the latest entry on the same record) as `decide`
    /// says of that entry as it is now and of the mark left, all in one transaction. Gives the mark
    /// left with what became of it.
    pub async fn coalesce(
        &self,
        entry: &Entry,
        body: Option<&ArrayBuffer>,
        waiting: u64,
        decide: impl FnOnce(Mark, Option<(&Entry, Vec<u8>)>) -> Fold,
    ) -> Result<(Pushed, Mark), Error> {
        self.note_addition();
        let tx = self.write(&[QUEUE, META])?;
        let mark = next_mark(&tx)?;
        let store = tx.object_store(QUEUE).map_err(storage)?;
        let found = store.get::<JsValue, f64, _>(waiting as f64).primitive().map_err(storage)?;
        // Only these requests are awaited before the writes: anything else would end the transaction.
        let mark = numeric(mark.await.map_err(storage)?)?;
        let found: Option<JsValue> = found.await.map_err(storage)?;
        let current = found.and_then(|r| from_record(&r).ok());
        let bytes = |b: &Option<ArrayBuffer>| b.as_ref().map(|b| js_sys::Uint8Array::new(b).to_vec()).unwrap_or_default();
        let pushed = match decide(mark, current.as_ref().map(|s| (&s.entry, bytes(&s.body)))) {
            Fold::Into { entry: folded, body: merged } => {
                let merged = (!merged.is_empty()).then(|| js_sys::Uint8Array::from(merged.as_slice()).buffer());
                let record = to_record(&folded.to_json(), Some(&folded), merged.as_ref())?;
                store.put(record).primitive().map_err(storage)?;
                Pushed::Merged(waiting)
            }
            Fold::Cancel => {
                store.delete(waiting as f64).primitive().map_err(storage)?;
                Pushed::Cancelled(waiting)
            }
            Fold::Separate => {
                let record = to_record(&entry.to_json(), Some(entry), body)?;
                let key = store.add(record).with_key_type::<JsValue>().primitive().map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                return Ok((Pushed::Added(numeric(key.await.map_err(storage)?)?), mark));
            }
        };
        tx.commit().await.map_err(storage)?;
        Ok((pushed, mark))
    }

    /// Rewrites an entry in place (attempts, last status), keeping its id and so its place in line;
    /// one no longer queued (another worker delivered it meanwhile) stays gone.
    pub async fn update(&self, stored: &Stored) -> Result<(), Error> {
        let id = stored.entry.id.ok_or_else(|| Error::Browser("an update of an entry with no id".into()))?;
        let record = to_record(&stored.entry.to_json(), Some(&stored.entry), stored.body.as_ref())?;
        let tx = self.write_relaxed(&[QUEUE])?;
        let store = tx.object_store(QUEUE).map_err(storage)?;
        // Only this request is awaited before the write: anything else would end the transaction.
        let queued: Option<JsValue> = store.get::<JsValue, f64, _>(id as f64).primitive().map_err(storage)?.await.map_err(storage)?;
        if queued.is_some() {
            store.put(record).primitive().map_err(storage)?;
        }
        tx.commit().await.map_err(storage)
    }

    pub async fn count(&self) -> Result<u32, Error> {
        Ok(self.counts().await?.0)
    }

    pub fn additions(&self) -> u64 {
        self.additions.get()
    }

    fn note_addition(&self) {
        self.additions.set(self.additions.get() + 1);
    }

    /// Waiting entries and dead letters, read in one transaction.
    pub async fn counts(&self) -> Result<(u32, u32), Error> {
        let tx = self.db.transaction([QUEUE, DEAD]).build().map_err(storage)?;
        let queued = tx.object_store(QUEUE).map_err(storage)?.count().primitive().map_err(storage)?;
        let dead = tx.object_store(DEAD).map_err(storage)?.count().primitive().map_err(storage)?;
        Ok((queued.await.map_err(storage)?, dead.await.map_err(storage)?))
    }

    /// Deletes the delivered entries `remove`, then reads the first `limit` records, in queue
    /// order, readable or not, in one transaction that also moves the queue's mark on: nothing
    /// read here is merged into, as a replay may send it. A record under a key the store did not
    /// make is filed again first.
    pub async fn read(&self, limit: u32, remove: &[u64]) -> Result<Vec<(u64, Found)>, Error> {
        let tx = self.write_relaxed(&[QUEUE, META])?;
        drop(next_mark(&tx)?);
        let store = tx.object_store(QUEUE).map_err(storage)?;
        delete_all(&store, remove)?;
        // Each pass that finds a foreign key files it under one of ours, so the passes end.
        let found = loop {
            let records = store
                .get_all::<JsValue>()
                .with_limit(limit)
                .primitive()
                .map_err(storage)?
                .await
                .map_err(storage)?;
            let mut found = Vec::new();
            let mut refiled = false;
            for record in records {
                let record = record.map_err(storage)?;
                let key = js::get(&record, "id");
                let Some(id) = queue_id(key.as_f64()) else {
                    refile(&store, key, record)?;
                    refiled = true;
                    continue;
                };
                found.push((id, match from_record(&record) {
                    Ok(stored) => Found::Entry(stored),
                    Err(e) => Found::Unreadable(e, record),
                }));
            }
            if !refiled {
                break found;
            }
        };
        tx.commit().await.map_err(storage)?;
        Ok(found)
    }

    /// Removes delivered entries in one transaction.
    pub async fn remove_all(&self, ids: &[u64]) -> Result<(), Error> {
        let tx = self.write_relaxed(&[QUEUE])?;
        delete_all(&tx.object_store(QUEUE).map_err(storage)?, ids)?;
        tx.commit().await.map_err(storage)
    }

    /// Every readable entry in queue order.
    pub async fn list(&self) -> Result<Vec<Entry>, Error> {
        let records = self.all(QUEUE).await?;
        Ok(records.iter().filter_map(|r| from_record(r).ok()).map(|s| s.entry).collect())
    }

    /// Moves a queue record to the dead letters, in one transaction: it is never in both or neither.
    /// `raw` is kept beside an unreadable record, so a person can still see what it held.
    pub async fn bury(&self, letter: &DeadLetter, body: Option<&ArrayBuffer>, raw: Option<&JsValue>) -> Result<(), Error> {
        let record = to_record(&letter.to_json(), letter.entry.as_ref(), body)?;
        if let Some(raw) = raw {
            js::set(&record, "raw", raw)?;
        }
        let tx = self.write_relaxed(&[QUEUE, DEAD])?;
        tx.object_store(QUEUE).map_err(storage)?.delete(letter.id as f64).primitive().map_err(storage)?;
        tx.object_store(DEAD).map_err(storage)?.put(record).primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Every dead letter as the page lists it, unreadable ones included. One stored under a key
    /// that is not a queue id (written by other code) cannot be named to a retry or a discard: it
    /// is left out, and said so.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetterView>, Error> {
        let records = self.all(DEAD).await?;
        let mut listed = Vec::with_capacity(records.len());
        for record in &records {
            let key = js::get(record, "id");
            match queue_id(key.as_f64()) {
                Some(id) => listed.push(DeadLetter::listed(id, js::to_json(record).as_deref())),
                None => js::error("offline-sync: a dead letter stored under a key that is not a queue id (written by other code) is left out of the list"),
            }
        }
        Ok(listed)
    }

    /// Puts a dead letter back in the queue under its old id (its original place in line).
    pub async fn revive(&self, id: u64) -> Result<Entry, Error> {
        self.note_addition();
        let tx = self.write(&[QUEUE, DEAD])?;
        let dead = tx.object_store(DEAD).map_err(storage)?;
        let record: Option<JsValue> =
            dead.get::<JsValue, f64, _>(id as f64).primitive().map_err(storage)?.await.map_err(storage)?;
        let record = record.ok_or_else(|| Error::Record(RecordError(format!("there is no dead letter {id}"))))?;
        let letter = js::to_json(&record)
            .and_then(|t| DeadLetter::from_json(&t))
            .ok_or_else(|| Error::Record(RecordError(format!("dead letter {id} is unreadable"))))?;
        let entry = letter
            .revived()
            .ok_or_else(|| Error::Record(RecordError(format!("dead letter {id} was an unreadable record; discard it"))))?;
        let body = body_of(&record).map_err(Error::Record)?;
        let queued = to_record(&entry.to_json(), Some(&entry), body.as_ref())?;
        tx.object_store(QUEUE).map_err(storage)?.put(queued).primitive().map_err(storage)?;
        dead.delete(id as f64).primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(entry)
    }

    /// Deletes a dead letter for good.
    pub async fn discard(&self, id: u64) -> Result<(), Error> {
        let tx = self.write(&[DEAD])?;
        let dead = tx.object_store(DEAD).map_err(storage)?;
        let found: Option<JsValue> = dead.get::<JsValue, f64, _>(id as f64).primitive().map_err(storage)?.await.map_err(storage)?;
        if found.is_none() {
            return Err(Error::Record(RecordError(format!("there is no dead letter {id}"))));
        }
        dead.delete(id as f64).primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    async fn all(&self, store: &str) -> Result<Vec<JsValue>, Error> {
        let tx = self.db.transaction(store).build().map_err(storage)?;
        let store = tx.object_store(store).map_err(storage)?;
        let records = store.get_all::<JsValue>().primitive().map_err(storage)?.await.map_err(storage)?;
        Ok(records.filter_map(Result::ok).collect())
    }

    /// For what a page was promised (a 202 means the entry is on disk): flushed before it resolves.
    fn write(&self, stores: &[&str]) -> Result<Transaction<'_>, Error> {
        self.write_with(stores, TransactionDurability::Strict)
    }

    /// For book-keeping whose loss in a crash only means a resend under the same key (a removal
    /// after delivery, an attempt noted, a move to dead letters): no flush to wait for.
    fn write_relaxed(&self, stores: &[&str]) -> Result<Transaction<'_>, Error> {
        self.write_with(stores, TransactionDurability::Relaxed)
    }

    fn write_with(&self, stores: &[&str], durability: TransactionDurability) -> Result<Transaction<'_>, Error> {
        self.db
            .transaction(stores)
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(durability))
            .build()
            .map_err(storage)
    }
}

/// Deletes these entries within the store's transaction (one already gone is no error).
fn delete_all(store: &ObjectStore<'_>, ids: &[u64]) -> Result<(), Error> {
    for id in ids {
        store.delete(*id as f64).primitive().map_err(storage)?;
    }
    Ok(())
}

/// Files a record that other code wrote under a key of its own at the end of the queue, under a
/// key the store generates: under its old key no removal by id could reach it, and a replay would
/// meet it again and again. (After a number key beyond 2^53 the store generates none: the add
/// fails, and so the read, with the store's error.)
/// The requests are made in the transaction and not awaited: the next read comes after them.
fn refile(store: &ObjectStore<'_>, key: JsValue, record: JsValue) -> Result<(), Error> {
    store.as_sys().delete(&key).map_err(js::browser)?;
    js_sys::Reflect::delete_property(record.unchecked_ref::<js_sys::Object>(), &"id".into()).map_err(js::browser)?;
    drop(store.add(record).with_key_type::<JsValue>().primitive().map_err(storage)?);
    Ok(())
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

/// Moves the queue's mark on by one, in `tx` (which holds `meta`): the request for the new one.
/// The mark is `meta`'s key generator, which every addition to the queue (a push, a merge) and
/// every read of it moves on, in the same transaction (see `State::fold`).
fn next_mark(tx: &Transaction<'_>) -> Result<impl std::future::Future<Output = Result<JsValue, idb::Error>>, Error> {
    let meta = tx.object_store(META).map_err(storage)?;
    meta.clear().map_err(storage)?;
    meta.add(JsValue::NULL).with_key_type::<JsValue>().primitive().map_err(storage)
}

fn numeric(key: JsValue) -> Result<u64, Error> {
    key.as_f64().map(|k| k as u64).ok_or_else(|| Error::Storage("the store returned a non-numeric key".into()))
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
