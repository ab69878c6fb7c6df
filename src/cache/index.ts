// Public face of src/cache.
export { encodeBundle, decodeBundle, decodeSection, BUNDLE_MAGIC, BUNDLE_FORMAT_VERSION, type DecodedBundle, type CodecOptions } from "./bundle-codec.js";
export { writeFileAtomic, ensurePrivateDir, checkTrustedFolders, UntrustedCacheError, resolveCacheRoot } from "../util/index.js";
export { FileLock, LockTimeoutError, type LockOptions } from "./file-lock.js";
export { computeCacheKey, explainCacheKey, diffFactors, describeMiss, type KeyFactors, type CacheKey, type FactorDiff } from "./cache-key.js";
export {
  entryLocation, lockPath, checkFolderTrust, type EntryLocation,
} from "./cache-layout.js";
export { writeUnpacked, readUnpacked } from "./unpacked.js";
export {
  type RemoteEntry, type RemoteStore, FolderRemote, RemoteFormatError, parseEntry, publish, readThrough, remoteEntryName, withStore,
} from "./remote-store.js";
export { RedisRemote } from "./redis-remote.js";
export { parseRemotes, prewarmRemotes } from "./remote-config.js";
export { keyId, signEntry, signingKeyOf, trustedKeysOf, untrustedReason, writeKeyPair } from "./fleet-keys.js";
