//! Demo API server for offline-sync: a small task API on SQLite, static files for the
//! demo page, and `/_test/` hooks that let browser tests inject network faults.

mod api;
mod app;
pub mod cli;
mod error;
mod hooks;
mod idempotency;
mod observe;
mod server;
mod static_files;
mod store;
mod task;

pub use cli::Config;
pub use error::StartError;
pub use server::Server;
