// Public face of src/util.
export * from "./errors.js";
export { assert, unreachable } from "./assert.js";
export { canonicalJson, sha256Hex, hashValue } from "./hash.js";
export { readEnv, MAX_THREADS, type KilnEnv, type Backend } from "./env.js";
export { logLine, logTopic, setLogSink, type LogSink } from "./log.js";
export { bump, counters, type CounterName } from "./counters.js";
