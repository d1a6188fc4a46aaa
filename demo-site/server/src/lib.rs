//! Demo API server for offline-sync: a small sync-capable API (tasks and projects, with
//! versions, tombstones and pull by change sequence) on SQLite, static files for the demo
//! page, and (with `--test-hooks`, for the tests only) `/_test/` hooks that inject network faults.

mod api;
mod app;
mod batch;
pub mod cli;
mod error;
mod hooks;
mod idempotency;
mod input;
mod observe;
mod project;
mod record;
mod schema;
mod server;
mod static_files;
mod store;
mod sync;
mod task;

pub use cli::Config;
pub use error::StartError;
pub use server::Server;
