//! The IndexedDB retry queue: one record per mutation, in arrival order, body bytes kept as-is.

use super::js;
use crate::entry::{Entry, RecordError};
use crate::error::Error;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use indexed_db_futures::KeyRange;
use js_sys::ArrayBuffer;
use wasm_bindgen::{JsCast, JsValue};

pub const DB_NAME: &str = "offline-sync";
const DB_VERSION: u32 = 1;
const STORE: &str = "queue";

/// A stored mutation: its plain description and its body.
pub struct Stored {
    pub entry: Entry,
    pub body: Option<ArrayBuffer>,
}

pub struct Queue {
    db: Database,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

impl Queue {
    pub async fn open(name: &str) -> Result<Queue, Error> {
        let db = Database::open(name)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                if event.old_version() < 1.0 {
                    db.create_object_store(STORE).with_key_path("id".into()).with_auto_increment(true).build()?;
                }
                Ok(())
            })
            .await
            .map_err(storage)?;
        Ok(Queue { db })
    }

    /// Appends a mutation; resolves with its id only once the transaction is durably committed.
    pub async fn push(&self, entry: &Entry, body: Option<&ArrayBuffer>) -> Result<u64, Error> {
        let record = to_record(entry, body)?;
        let tx = self.write_tx()?;
        let store = tx.object_store(STORE).map_err(storage)?;
        let key = store.add(record).with_key_type::<JsValue>().primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let key = key.await.map_err(storage)?;
        key.as_f64().map(|k| k as u64).ok_or_else(|| Error::Storage("the store returned a non-numeric key".into()))
    }

    /// Rewrites an entry in place (attempts, last status), keeping its id and so its place in line.
    pub async fn update(&self, stored: &Stored) -> Result<(), Error> {
        let record = to_record(&stored.entry, stored.body.as_ref())?;
        let tx = self.write_tx()?;
        let store = tx.object_store(STORE).map_err(storage)?;
        store.put(record).primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    pub async fn remove(&self, id: u64) -> Result<(), Error> {
        let tx = self.write_tx()?;
        let store = tx.object_store(STORE).map_err(storage)?;
        store.delete(id as f64).primitive().map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    pub async fn count(&self) -> Result<u32, Error> {
        let tx = self.db.transaction(STORE).build().map_err(storage)?;
        let store = tx.object_store(STORE).map_err(storage)?;
        store.count().primitive().map_err(storage)?.await.map_err(storage)
    }

    /// The first entry after `after` in queue order, with its id even when the record is unreadable.
    pub async fn next_after(&self, after: Option<u64>) -> Result<Option<(u64, Result<Stored, RecordError>)>, Error> {
        let tx = self.db.transaction(STORE).build().map_err(storage)?;
        let store = tx.object_store(STORE).map_err(storage)?;
        let lower = after.map_or(0.0, |id| id as f64);
        let found = store
            .get_all::<JsValue>()
            .with_query::<f64, _>(KeyRange::LowerBound(lower, after.is_some()))
            .with_limit(1)
            .primitive()
            .map_err(storage)?
            .await
            .map_err(storage)?
            .next();
        match found {
            None => Ok(None),
            Some(record) => {
                let record = record.map_err(storage)?;
                let id = js::get(&record, "id").as_f64().map(|k| k as u64).unwrap_or_default();
                Ok(Some((id, from_record(&record))))
            }
        }
    }

    /// Every entry in queue order; unreadable records are left out.
    pub async fn list(&self) -> Result<Vec<Entry>, Error> {
        let tx = self.db.transaction(STORE).build().map_err(storage)?;
        let store = tx.object_store(STORE).map_err(storage)?;
        let records = store.get_all::<JsValue>().primitive().map_err(storage)?.await.map_err(storage)?;
        Ok(records.filter_map(|r| r.ok()).filter_map(|r| from_record(&r).ok()).map(|s| s.entry).collect())
    }

    fn write_tx(&self) -> Result<indexed_db_futures::transaction::Transaction<'_>, Error> {
        self.db
            .transaction(STORE)
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Strict))
            .build()
            .map_err(storage)
    }
}

/// A record is the entry's JSON as an object, plus `body` (an ArrayBuffer or null).
fn to_record(entry: &Entry, body: Option<&ArrayBuffer>) -> Result<JsValue, Error> {
    let record = js::from_json(&entry.to_json())?;
    js::set(&record, "body", body.map_or(&JsValue::NULL, |b| b.as_ref()))?;
    Ok(record)
}

fn from_record(record: &JsValue) -> Result<Stored, RecordError> {
    let text = js::to_json(record).ok_or_else(|| RecordError("queue record is not an object".into()))?;
    let entry = Entry::from_json(&text)?;
    let body = js::get(record, "body");
    let body = if body.is_null() || body.is_undefined() {
        None
    } else {
        Some(body.dyn_into::<ArrayBuffer>().map_err(|_| RecordError("queue record body is not bytes".into()))?)
    };
    Ok(Stored { entry, body })
}
