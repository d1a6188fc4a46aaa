//! The browser side: events in, IndexedDB, fetch and page messages out. It decides nothing itself:
//! every choice is asked of the plain-Rust core.

mod clients;
pub mod exports;
mod group_commit;
mod idb;
mod intercept;
mod join;
mod js;
mod net;
pub mod queue;
mod replay;
mod worker;

/// Where a panic happened, on the console (for the crate's panic handler, in the build without
/// `std`).
#[cfg(not(feature = "std"))]
pub fn panicked(at: Option<(&str, u32, u32)>) {
    let line = match at {
        Some((file, line, column)) => alloc::format!("offline-sync panicked at {file}:{line}:{column}"),
        None => "offline-sync panicked".into(),
    };
    js::error(&line);
}
