// Runs before every test file: IndexedDB for Dexie in Node, and a stand-in for the service
// worker that client.js talks to (installed before client.js first listens).
import 'fake-indexeddb/auto';
import { installWorker } from './world.js';

installWorker();
