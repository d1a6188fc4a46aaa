//! Demo API server for offline-sync: a small sync-capable API (tasks and projects, with
//! versions, tombstones and pull by change sequence, with offline-sync-server's pull helpers) on SQLite or PostgreSQL under offline-sync-server's
//! contract layer, static files for the demo page, and (with `--test-hooks`, for the tests
//! only) `/_test/` hooks that inject network faults.

mod answer;
mod api;
mod cell;
pub mod cli;
mod error;
mod hooks;
mod input;
mod observe;
mod pg_rows;
mod project;
mod record;
mod routes;
mod rows;
mod schema;
mod server;
mod sqlite_rows;
mod state;
mod static_files;
mod switch;
mod task;
mod test_routes;

pub use cli::Config;
pub use error::StartError;
pub use server::Server;
