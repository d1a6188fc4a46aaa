//! IndexedDB requests and transactions as futures, straight over web-sys.
//!
//! Each future is a promise settled by the browser's own `success`/`complete` event, so code after
//! an `await` on a request runs in a microtask of that event, while its transaction is still active:
//! a transaction's later steps must follow from its requests' results, with no other await between.

use super::js;
use crate::prelude::*;
use crate::error::Error;
use js_sys::{Array, Promise};
use core::future::Future;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DomException, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode, IdbVersionChangeEvent};

#[wasm_bindgen]
extern "C" {
    /// web-sys has `transaction(stores, mode, options)` only under `web_sys_unstable_apis`.
    #[wasm_bindgen(extends = IdbDatabase, js_name = IDBDatabase)]
    type Database;

    #[wasm_bindgen(method, catch)]
    fn transaction(this: &Database, stores: &Array, mode: IdbTransactionMode, options: &JsValue) -> Result<IdbTransaction, JsValue>;
}

/// Opens database `name` at `version`; `upgrade` gets the version it had (0 if new) when older.
pub async fn open(name: &str, version: u32, upgrade: impl Fn(&IdbDatabase, f64) -> Result<(), JsValue> + 'static) -> Result<IdbDatabase, Error> {
    let factory = js::scope().indexed_db().map_err(storage)?.ok_or_else(|| Error::Storage("IndexedDB is unavailable".into()))?;
    let opening = factory.open_with_u32(name, version).map_err(storage)?;
    // An error returned here is thrown in the handler, which aborts the upgrade and so the open.
    let on_upgrade = {
        let opening = opening.clone();
        Closure::<dyn FnMut(IdbVersionChangeEvent) -> Result<(), JsValue>>::new(move |event: IdbVersionChangeEvent| {
            upgrade(&opening.result()?.unchecked_into(), event.old_version())
        })
    };
    opening.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let opened = request(Ok(opening.clone().into())).await;
    opening.set_onupgradeneeded(None);
    Ok(opened?.unchecked_into())
}

/// The result of `issued` once it succeeds. Its handlers are set now, not when first polled, so
/// several requests can be issued before any is awaited.
pub fn request(issued: Result<IdbRequest, JsValue>) -> impl Future<Output = Result<JsValue, Error>> {
    let pending = issued.map(|request| {
        let done = JsFuture::from(Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        }));
        (request, done)
    });
    async move {
        let (request, done) = pending.map_err(storage)?;
        done.await.map_err(failure)?;
        request.result().map_err(storage)
    }
}

/// A readwrite transaction, aborted if dropped before `commit`: an early return writes nothing.
pub struct Tx {
    tx: IdbTransaction,
    committed: bool,
}

impl Tx {
    /// `durability` is `"strict"` or `"relaxed"`; browsers without the option ignore it.
    pub fn write(db: &IdbDatabase, stores: &[&str], durability: &str) -> Result<Tx, Error> {
        let options = js_sys::Object::new();
        js::set(&options, "durability", &durability.into())?;
        let tx = db.unchecked_ref::<Database>().transaction(&names(stores), IdbTransactionMode::Readwrite, &options).map_err(storage)?;
        Ok(Tx { tx, committed: false })
    }

    pub fn store(&self, name: &str) -> Result<IdbObjectStore, Error> {
        self.tx.object_store(name).map_err(storage)
    }

    /// Commits; resolves once the browser reports the transaction complete (for strict durability,
    /// flushed to disk), or fails with what aborted it.
    pub async fn commit(mut self) -> Result<(), Error> {
        let done = JsFuture::from(Promise::new(&mut |resolve, reject| {
            self.tx.set_oncomplete(Some(&resolve));
            self.tx.set_onerror(Some(&reject));
            self.tx.set_onabort(Some(&reject));
        }));
        // Marked deprecated by web-sys's IDL only: the IndexedDB spec keeps `commit()`.
        #[allow(deprecated)]
        self.tx.commit().map_err(storage)?;
        self.committed = true;
        done.await.map(drop).map_err(failure)
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.committed {
            // Throws only once the transaction has finished: then there is nothing to undo.
            let _ = self.tx.abort();
        }
    }
}

/// A read-only transaction over `stores`.
pub fn read(db: &IdbDatabase, stores: &[&str]) -> Result<IdbTransaction, Error> {
    db.transaction_with_str_sequence(&names(stores)).map_err(storage)
}

fn names(stores: &[&str]) -> Array {
    stores.iter().map(|name| JsValue::from_str(name)).collect()
}

/// A thrown error as text: a DOMException as `name: message` (`QuotaExceededError: …`).
pub fn storage(error: JsValue) -> Error {
    Error::Storage(match error.dyn_into::<DomException>() {
        Ok(e) => format!("{}: {}", e.name(), e.message()),
        Err(other) => js::describe(&other),
    })
}

/// What ended a request or transaction, from the `error` or `abort` event that said so.
fn failure(event: JsValue) -> Error {
    let error = js::get(&js::get(&event, "target"), "error");
    if error.is_null() || error.is_undefined() {
        return Error::Storage("AbortError: the transaction was aborted".into());
    }
    storage(error)
}
