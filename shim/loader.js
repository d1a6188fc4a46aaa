// offline-sync's worker loader: the body of dist/offline-sync.js, after wasm-bindgen's glue.
// The wasm is inlined (OFFLINE_SYNC_WASM, one character per byte) so that it is instantiated synchronously: the listeners
// below are added during the first evaluation, as browsers require, and every decision is Rust's
// from the very first event on. Inlined, it is also stored with the worker script, so a worker that
// starts while offline has it.
if (self.__offlineSyncStarted) {
  console.warn('offline-sync: loaded twice; the second copy is ignored');
} else {
  self.__offlineSyncStarted = true;
  let rust = null;
  try {
    const bytes = new Uint8Array(OFFLINE_SYNC_WASM.length);
    for (let i = 0; i < bytes.length; i++) bytes[i] = OFFLINE_SYNC_WASM.charCodeAt(i);
    wasm_bindgen.initSync({ module: bytes });
    wasm_bindgen.start(self.offlineSync);
    rust = wasm_bindgen;
  } catch (error) {
    // A worker that cannot run offline-sync must still let the app reach the network.
    console.error('offline-sync: could not start; requests go to the network unprotected.', error);
  }
  if (rust) {
    // For an app's own worker code: `offlineSyncWorker.handle(request)` protects a mutation it
    // chooses (from its own fetch handler, with the option fetchListener: false), `replay()`.
    self.offlineSyncWorker = Object.freeze({
      handle: (request) => rust.handle(request),
      intercepts: (request) => rust.intercepts(request),
      replay: () => rust.replay(),
    });
    if (rust.listensForFetch()) {
      self.addEventListener('fetch', (event) => {
        if (rust.intercepts(event.request)) event.respondWith(rust.handleFetch(event.request));
      });
    }
    self.addEventListener('sync', (event) => {
      const done = rust.handleSync(event.tag);
      if (done) event.waitUntil(done);
    });
    self.addEventListener('message', (event) => {
      const done = rust.handleMessage(event);
      if (done) event.waitUntil(done);
    });
  }
}
