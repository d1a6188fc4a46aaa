//! A worker whose loader never called `start()`: the exports still answer, with default options.
#![cfg(target_arch = "wasm32")]

use offline_sync::shell::exports::{handle_sync, listens_for_fetch};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
fn exports_fall_back_to_the_default_options() {
    // Each call finds no worker the first time and installs one with the defaults.
    assert!(listens_for_fetch(), "the default is to add the fetch listener");
    assert!(handle_sync("someone-else".into()).is_none(), "a tag that is not offline-sync's is left alone");
}
