// The bundle file format: a fixed prefix, a JSON header, then named sections, each with a SHA-256.
//
//   "KILNBNDL" | u32 format version | u32 header length | header JSON | section bytes…
//
// The prefix layout never changes between format versions, so a reader can always say
// which Kiln and which format wrote a file it cannot load. Every length is checked
// against the file size and every checksum verified before any section is returned.
import { BundleCorruptError, GuardMismatchError, hmacSha256Hex, sameDigest, sha256Hex } from "../util/index.js";

export const BUNDLE_MAGIC = "KILNBNDL";
/** One integer invalidates every cache: bump it whenever the bundle layout or meaning changes. */
export const BUNDLE_FORMAT_VERSION = 1;

const PREFIX_BYTES = 16;
const MAX_HEADER_BYTES = 64 << 20;

interface SectionEntry {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
}

interface BundleHeader {
  readonly kilnVersion: string;
  readonly sections: readonly SectionEntry[];
  /** HMAC-SHA256 over the canonical section list, when written with a signing key. */
  readonly hmac?: string;
}

export interface DecodedBundle {
  readonly formatVersion: number;
  readonly kilnVersion: string;
  readonly sections: ReadonlyMap<string, Uint8Array>;
  /** Each section's sha256, as checked (so callers never hash a section twice). */
  readonly digests: ReadonlyMap<string, string>;
  /** The HMAC the bundle carries, when signed. */
  readonly signature: string | undefined;
  readonly signed: boolean;
}

export interface CodecOptions {
  /** Where the bytes came from, for error messages. */
  readonly path?: string;
  /** With a key, writing signs and reading refuses unsigned or wrongly signed bundles. */
  readonly signingKey?: string;
  /** The running Kiln's version, to report in a version mismatch. */
  readonly kilnVersion: string;
  /** Writing only: the format version to stamp (tests simulate other versions with it). */
  readonly formatVersion?: number;
  /** Writing only: a signature made earlier over these very sections (an unpacked folder's), kept as is. */
  readonly signature?: string;
}

function sectionDigest(sections: readonly SectionEntry[], kilnVersion: string): string {
  return JSON.stringify({ kilnVersion, sections: sections.map((s) => [s.name, s.offset, s.length, s.sha256]) });
}

const hmacOf = hmacSha256Hex;

export function encodeBundle(sections: ReadonlyMap<string, Uint8Array>, options: CodecOptions): Uint8Array {
  const entries: SectionEntry[] = [];
  let offset = 0;
  for (const [name, bytes] of sections) {
    entries.push({ name, offset, length: bytes.length, sha256: sha256Hex(bytes) });
    offset += bytes.length;
  }
  const header: BundleHeader = {
    kilnVersion: options.kilnVersion,
    sections: entries,
    ...(options.signature !== undefined
      ? { hmac: options.signature }
      : options.signingKey
        ? { hmac: hmacOf(options.signingKey, sectionDigest(entries, options.kilnVersion)) }
        : {}),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + offset);
  out.set(new TextEncoder().encode(BUNDLE_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, options.formatVersion ?? BUNDLE_FORMAT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  let at = PREFIX_BYTES + headerBytes.length;
  for (const bytes of sections.values()) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

function isSectionEntry(e: unknown): e is SectionEntry {
  const s = e as SectionEntry;
  return (
    !!s && typeof s.name === "string" && Number.isSafeInteger(s.offset) && s.offset >= 0 &&
    Number.isSafeInteger(s.length) && s.length >= 0 && typeof s.sha256 === "string" && /^[0-9a-f]{64}$/.test(s.sha256)
  );
}

interface ParsedHeader {
  readonly formatVersion: number;
  readonly kilnVersion: string;
  readonly header: BundleHeader;
  /** Where the section bytes start. */
  readonly dataStart: number;
}

/** The prefix and header of a bundle, checked (magic, lengths, format version, section table); no section read. */
function parseHeader(bytes: Uint8Array, options: CodecOptions): ParsedHeader {
  const path = options.path ?? "<memory>";
  const corrupt = (section: string, why: string) => new BundleCorruptError(path, section, why);
  if (bytes.length < PREFIX_BYTES) throw corrupt("prefix", `file is ${bytes.length} bytes, shorter than the ${PREFIX_BYTES}-byte prefix`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== BUNDLE_MAGIC) throw corrupt("prefix", "bad magic (not a Kiln bundle)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = view.getUint32(8, true);
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > bytes.length) {
    throw corrupt("header", `header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  }
  let header: BundleHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (e) {
    throw corrupt("header", `header is not valid JSON (${(e as Error).message})`);
  }
  const kilnVersion = typeof header?.kilnVersion === "string" ? header.kilnVersion : "unknown";
  if (formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new GuardMismatchError(
      "format_version",
      `format ${BUNDLE_FORMAT_VERSION}`,
      `format ${formatVersion}`,
      `${path}: built by kiln ${kilnVersion} (format ${formatVersion}), running ${options.kilnVersion} (format ${BUNDLE_FORMAT_VERSION})`,
    );
  }
  if (!header || typeof header !== "object" || !Array.isArray(header.sections) || !header.sections.every(isSectionEntry)) {
    throw corrupt("header", "malformed section table");
  }
  return { formatVersion, kilnVersion, header, dataStart: PREFIX_BYTES + headerLength };
}

/**
 * One section, verified against its checksum, without reading or hashing the others (a manifest for `kiln cache ls`
 * or a miss explanation). The signature, which covers every section, is not checked: use decodeBundle to load.
 */
export function decodeSection(bytes: Uint8Array, name: string, options: CodecOptions): Uint8Array {
  const path = options.path ?? "<memory>";
  const { header, dataStart } = parseHeader(bytes, options);
  const s = header.sections.find((x) => x.name === name);
  if (!s) throw new BundleCorruptError(path, name, "section missing");
  if (dataStart + s.offset + s.length > bytes.length) throw new BundleCorruptError(path, name, "section past the end of the file");
  const data = bytes.subarray(dataStart + s.offset, dataStart + s.offset + s.length);
  if (sha256Hex(data) !== s.sha256) throw new BundleCorruptError(path, name, "checksum mismatch");
  return data;
}

/** Parses and fully verifies a bundle; throws BundleCorruptError (or GuardMismatchError for another format). */
export function decodeBundle(bytes: Uint8Array, options: CodecOptions): DecodedBundle {
  const path = options.path ?? "<memory>";
  const corrupt = (section: string, why: string) => new BundleCorruptError(path, section, why);
  const { formatVersion, kilnVersion, header, dataStart } = parseHeader(bytes, options);
  const dataLength = bytes.length - dataStart;
  let expectedOffset = 0;
  const sections = new Map<string, Uint8Array>();
  const digests = new Map<string, string>();
  for (const s of header.sections) {
    if (s.offset !== expectedOffset || s.offset + s.length > dataLength) {
      throw corrupt(s.name, `section [${s.offset}, ${s.offset + s.length}) is out of place or past the end (${dataLength} data bytes)`);
    }
    if (sections.has(s.name)) throw corrupt(s.name, "duplicate section");
    const data = bytes.subarray(dataStart + s.offset, dataStart + s.offset + s.length);
    if (sha256Hex(data) !== s.sha256) throw corrupt(s.name, "checksum mismatch");
    sections.set(s.name, data);
    digests.set(s.name, s.sha256);
    expectedOffset += s.length;
  }
  if (expectedOffset !== dataLength) throw corrupt("data", `${dataLength - expectedOffset} trailing bytes after the last section`);
  if (options.signingKey !== undefined) {
    if (typeof header.hmac !== "string") throw new GuardMismatchError("signature", "a bundle signed with KILN_CACHE_SIGNING_KEY", "an unsigned bundle", path);
    if (!sameDigest(header.hmac, hmacOf(options.signingKey, sectionDigest(header.sections, kilnVersion)))) {
      throw new GuardMismatchError("signature", "a valid HMAC for the configured key", "a wrong signature", path);
    }
  }
  const signature = typeof header.hmac === "string" ? header.hmac : undefined;
  return { formatVersion, kilnVersion, sections, digests, signature, signed: signature !== undefined };
}
