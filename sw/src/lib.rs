//! offline-sync: a service worker that keeps every failed `/api/` mutation and delivers it later.
//!
//! The decisions (`batch`, `coalesce`, `config`, `dead_letter`, `drain`, `entry`, `error`, `group_commit`, `intercept`, `lanes`, `millis`, `outcome`, `page`, `protocol`, `replay`, `state`) are plain Rust, tested natively.
//! `shell` is the thin part that touches the browser; it only exists in the wasm build.

pub mod batch;
pub mod coalesce;
pub mod config;
pub mod dead_letter;
pub mod drain;
pub mod entry;
pub mod error;
pub mod group_commit;
pub mod intercept;
pub mod lanes;
pub mod millis;
pub mod outcome;
pub mod page;
pub mod protocol;
pub mod replay;
pub mod state;

#[cfg(target_arch = "wasm32")]
pub mod shell;


#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
