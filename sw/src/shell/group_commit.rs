//! Carries out the group commits (`group_commit::Commits`) over the queue: each page still gets its
//! 202 only once its own entry is on disk.

use super::js;
use super::queue::Queue;
use crate::group_commit::Commits;
use crate::state::Mark;
use crate::entry::Entry;
use crate::error::Error;
use js_sys::{Array, ArrayBuffer, Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

struct Waiting {
    entry: Entry,
    body: Option<ArrayBuffer>,
    resolve: Function,
    reject: Function,
}

#[derive(Default)]
pub struct GroupCommit {
    commits: RefCell<Commits<Waiting>>,
}

impl GroupCommit {
    /// Appends `entry`; resolves with its id, the number waiting then and the queue's mark (see
    /// `Queue::push_all`), once the transaction holding it has committed.
    pub async fn push(self: &Rc<Self>, queue: &Rc<Queue>, entry: &Entry, body: Option<&ArrayBuffer>) -> Result<(u64, u32, Mark), Error> {
        // The executor runs at once, so the offer is made before the promise is awaited.
        let mut starts = false;
        let done = Promise::new(&mut |resolve, reject| {
            starts = self.commits.borrow_mut().offer(Waiting { entry: entry.clone(), body: body.cloned(), resolve, reject });
        });
        if starts {
            wasm_bindgen_futures::spawn_local(self.clone().commit_all(queue.clone()));
        }
        match JsFuture::from(done).await {
            Ok(committed) => {
                let committed = Array::from(&committed);
                match (committed.get(0).as_f64(), committed.get(1).as_f64(), committed.get(2).as_f64()) {
                    (Some(id), Some(pending), Some(mark)) => Ok((id as u64, pending as u32, mark as Mark)),
                    _ => Err(Error::Storage("no id came back".into())),
                }
            }
            Err(e) => Err(Error::Storage(js::describe(&e))),
        }
    }

    /// Commits what waits, then what arrived meanwhile, until nothing is left.
    async fn commit_all(self: Rc<Self>, queue: Rc<Queue>) {
        loop {
            let next = self.commits.borrow_mut().next_commit();
            let Some(batch) = next else { break };
            let entries: Vec<(Entry, Option<ArrayBuffer>)> = batch.iter().map(|w| (w.entry.clone(), w.body.clone())).collect();
            match queue.push_all(&entries).await {
                Ok((ids, pending, mark)) => {
                    let (pending, mark) = (JsValue::from(pending), JsValue::from_f64(mark as f64));
                    for (w, id) in batch.iter().zip(ids) {
                        let committed = Array::of3(&JsValue::from_f64(id as f64), &pending, &mark);
                        let _ = w.resolve.call1(&JsValue::NULL, &committed);
                    }
                }
                Err(e) => {
                    let reason = JsValue::from_str(&match e {
                        Error::Storage(message) => message,
                        other => other.to_string(),
                    });
                    for w in &batch {
                        let _ = w.reject.call1(&JsValue::NULL, &reason);
                    }
                }
            }
        }
    }
}
