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
    wasm_bindgen.initSync({ module: wasmBytes(OFFLINE_SYNC_WASM) });
    wasm_bindgen.start(self.offlineSync);
    rust = wasm_bindgen;
  } catch (error) {
    // A worker that cannot run offline-sync must still let the app reach the network.
    console.error('offline-sync: could not start; requests go to the network unprotected.', error);
    // A page that asks (status, replay, …) hears why at once, instead of waiting out its timeout.
    const why = `could not start in this worker (${error})`;
    self.addEventListener('message', (event) => {
      const port = event.ports && event.ports[0];
      const type = event.data && event.data.type;
      if (port && typeof type === 'string' && type.startsWith('offline-sync:')) {
        port.postMessage({ type: 'offline-sync:error', message: why });
      }
    });
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

// The inlined bytes, back from their one-character-per-byte string. Natively where the browser can
// (btoa reads such a string as bytes, fromBase64 makes them an array): a tenth of the time of a
// loop in a freshly started worker, where the loop runs unoptimised.
function wasmBytes(text) {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(btoa(text));
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
