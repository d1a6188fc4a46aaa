//! Empty on purpose: the suites live in `tests/`, and only run on wasm32.
