// Whom a fleet trusts: Ed25519 keys. A publisher signs each entry it writes (KILN_CACHE_SIGN_KEY, a private key in a
// PEM file); a replica with KILN_CACHE_TRUSTED_KEYS (public keys in PEM files) uses an entry only when one of them
// verifies its signature. The entry names the blob's SHA-256, so a verified entry vouches for the bundle's bytes too.
// Public keys, unlike a shared HMAC secret, let a replica check a publisher without being able to forge one.
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArgumentError, canonicalJson } from "../util/index.js";
import type { RemoteEntry } from "./remote-store.js";

/** What is signed: the entry without its signature fields, and the name it is stored under (no entry moves to another key). */
const signedText = (name: string, entry: RemoteEntry): string => {
  const { signature: _s, signer: _k, ...fields } = entry;
  return canonicalJson({ kiln_fleet_entry: 1, name, ...fields });
};

/** A short, stable name of a public key (for log lines and the entry's `signer`). */
export function keyId(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

function readKey(variable: string, path: string, kind: "private" | "public"): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new ArgumentError("env", `${variable}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  // Node would derive a public key from a private one: refuse it, a private key has no business on a replica.
  if (kind === "public" && pem.includes("PRIVATE KEY")) throw new ArgumentError("env", `${variable}: ${path} is a private key; replicas get only the public one (kiln-cache.pub)`);
  let key: KeyObject;
  try {
    key = kind === "private" ? createPrivateKey(pem) : createPublicKey(pem);
  } catch {
    throw new ArgumentError("env", `${variable}: ${path} is not a PEM ${kind} key (kiln cache keygen --out DIR writes a pair)`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new ArgumentError("env", `${variable}: ${path} is a ${key.asymmetricKeyType} key; the fleet cache uses Ed25519`);
  return key;
}

/** KILN_CACHE_SIGN_KEY's private key, if set. */
export function signingKeyOf(path: string | undefined): KeyObject | undefined {
  return path ? readKey("KILN_CACHE_SIGN_KEY", path, "private") : undefined;
}

/** KILN_CACHE_TRUSTED_KEYS's public keys (comma-separated PEM files); undefined when unset (no signature required). */
export function trustedKeysOf(paths: string | undefined): KeyObject[] | undefined {
  const list = (paths ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  return list.length ? list.map((p) => readKey("KILN_CACHE_TRUSTED_KEYS", p, "public")) : undefined;
}

/** The entry with its Ed25519 signature (base64) and signer's key id. */
export function signEntry(name: string, entry: RemoteEntry, key: KeyObject): RemoteEntry {
  return { ...entry, signer: keyId(key), signature: sign(null, Buffer.from(signedText(name, entry)), key).toString("base64") };
}

/** Why `entry` is not vouched for by one of `trusted`, or undefined when one of them verifies its signature. */
export function untrustedReason(name: string, entry: RemoteEntry, trusted: readonly KeyObject[]): string | undefined {
  if (entry.signature === undefined) return "it is not signed (KILN_CACHE_TRUSTED_KEYS requires a signature)";
  const signature = Buffer.from(entry.signature, "base64");
  const text = Buffer.from(signedText(name, entry));
  if (trusted.some((k) => verify(null, text, k, signature))) return undefined;
  return `its signature (signer ${entry.signer ?? "unnamed"}) is not by a key in KILN_CACHE_TRUSTED_KEYS, or the entry was altered after signing`;
}

/** `kiln cache keygen --out DIR`: a new Ed25519 pair, DIR/kiln-cache.key (private, 0600) and DIR/kiln-cache.pub; never overwrites. */
export function writeKeyPair(dir: string): { privatePath: string; publicPath: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privatePath = join(dir, "kiln-cache.key");
  const publicPath = join(dir, "kiln-cache.pub");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600, flag: "wx" });
    writeFileSync(publicPath, publicKey.export({ type: "spki", format: "pem" }) as string, { mode: 0o644, flag: "wx" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError("--out", code === "EEXIST" ? `${dir} already holds a kiln-cache key pair; keys are never overwritten` : `cannot write a key pair in ${dir} (${code ?? String(e)})`);
  }
  return { privatePath, publicPath, id: keyId(publicKey) };
}
