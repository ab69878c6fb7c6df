// Public face of src/cache.
export { encodeBundle, decodeBundle, BUNDLE_MAGIC, BUNDLE_FORMAT_VERSION, type DecodedBundle, type CodecOptions } from "./bundle-codec.js";
export { writeFileAtomic } from "./atomic-write.js";
export { FileLock, LockTimeoutError, type LockOptions } from "./file-lock.js";
export { computeCacheKey, explainCacheKey, diffFactors, describeMiss, type KeyFactors, type CacheKey, type FactorDiff } from "./cache-key.js";
export {
  resolveCacheRoot, entryLocation, objectPath, lockPath, checkFolderTrust, ensurePrivateDir, UntrustedCacheError, type EntryLocation,
} from "./cache-layout.js";
export { writeUnpacked, readUnpacked } from "./unpacked.js";
