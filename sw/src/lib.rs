//! offline-sync: a service worker that keeps every failed `/api/` mutation and delivers it later.
//!
//! The decisions (`batch`, `coalesce`, `config`, `dead_letter`, `entry`, `error`, `json`, `lanes`, `outcome`, `protocol`) are plain Rust, tested natively.
//! `shell` is the thin part that touches the browser; it only exists in the wasm build.
//!
//! The worker is built without `std`: its panic machinery cost more wasm than it gave (see
//! `panic` below for what a panic reports instead). The feature `std` links it back for the
//! in-worker test suites, whose harness needs it; native builds always have it.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

pub mod batch;
pub mod coalesce;
pub mod config;
pub mod dead_letter;
pub mod entry;
pub mod error;
pub mod json;
pub mod lanes;
pub mod outcome;
pub mod protocol;

/// What `std`'s prelude would bring, for the modules of a crate that is built without it.
#[allow(unused_imports)] // `Box` is only used by the shell, which native builds leave out.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

#[cfg(target_arch = "wasm32")]
pub mod shell;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// Without `std`, a panic is reported here: where it happened, on the console; then the worker
/// traps, as `std` does with `panic = "abort"`. The message is left out: it would need the
/// formatting that `std`'s panic hook brought.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::sync::atomic::{AtomicBool, Ordering};
    // A panic while reporting one (out of memory, say) traps at once instead of recursing; the
    // panics after such a one go unreported.
    static REPORTING: AtomicBool = AtomicBool::new(false);
    if !REPORTING.swap(true, Ordering::Relaxed) {
        let at = info.location().map(|at| (at.file(), at.line(), at.column()));
        shell::panicked(at);
        REPORTING.store(false, Ordering::Relaxed);
    }
    core::arch::wasm32::unreachable()
}
