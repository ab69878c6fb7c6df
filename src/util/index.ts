// Public face of src/util.
export * from "./errors.js";
export { assert, unreachable } from "./assert.js";
export { canonicalJson, sha256Hex, hashValue, hmacSha256Hex, sameDigest } from "./hash.js";
export { readEnv, resolveCacheRoot, MAX_THREADS, type KilnEnv, type Backend } from "./env.js";
export { writeFileAtomic } from "./atomic-write.js";
export { trustedStat, checkTrustedFolders, ensurePrivateDir, makePrivateTempDir, writeFreshFile } from "./private-fs.js";
export { logLine, logTopic, setLogSink, type LogSink } from "./log.js";
export { bump, counters, type CounterName } from "./counters.js";
