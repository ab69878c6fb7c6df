// Structural hashing: a stable SHA-256 of JSON-like values, independent of key order.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** JSON text with object keys sorted, so equal structures give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object" && !ArrayBuffer.isView(v)) {
    const out: Record<string, unknown> = Object.create(null); // a "__proto__" key stays a key
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  if (typeof v === "bigint") return v.toString();
  return v;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function hashValue(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

export function hmacSha256Hex(key: string, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

/** Constant-time comparison of two hex digests (false when either is missing or their lengths differ). */
export function sameDigest(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== "string" || typeof b !== "string" || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
