//! The browser side: events in, IndexedDB, fetch and page messages out. It decides nothing itself:
//! every choice is asked of the plain-Rust core.

mod clients;
pub mod exports;
mod group_commit;
mod intercept;
mod join;
mod js;
mod net;
pub mod queue;
mod replay;
mod worker;
