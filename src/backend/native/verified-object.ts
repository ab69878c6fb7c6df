// A shared object's bytes together with the SHA-256 they were checked against in this process. Only code that
// checked the hash makes one, and only a VerifiedObject can be loaded (native-module.ts), so every dlopen is of
// bytes verified against a recorded hash (ARCHITECTURE contract 8).
import { BundleCorruptError, sha256Hex } from "../../util/index.js";

declare const verifiedBrand: unique symbol;

export interface VerifiedObject {
  readonly sha256: string;
  readonly bytes: Uint8Array;
  readonly [verifiedBrand]: true;
}

/** Hashes `bytes` and checks them against `expected` (the recorded digest); `where` names them in the error. */
export function verifyObject(bytes: Uint8Array, expected: string, where: string): VerifiedObject {
  const got = sha256Hex(bytes);
  if (got !== expected) throw new BundleCorruptError(where, "object", `sha256 ${got.slice(0, 16)}… does not match the recorded ${expected.slice(0, 16)}…`);
  return { sha256: got, bytes } as VerifiedObject;
}

/** For bytes this process just produced (a compiler's output it hashes now), or whose digest it just checked. */
export function hashedObject(bytes: Uint8Array, sha256 = sha256Hex(bytes)): VerifiedObject {
  return { sha256, bytes } as VerifiedObject;
}
