// Safetensors reader: validates the whole header, then returns Tensors that view the file's bytes without copying.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import { endianness } from "node:os";
import { type DType, ITEM_SIZE, type Storage, Tensor } from "../tensor/index.js";
import { ModelFormatError } from "../util/index.js";
import { describe, parseJsonText } from "./json-file.js";

/** The safetensors dtype names Kiln reads, and the Kiln dtype each becomes. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  F32: "f32",
  BF16: "bf16",
  F16: "f16",
  I32: "i32",
  I64: "i64",
  BOOL: "bool",
});

/** Valid safetensors dtypes that Kiln has no storage for: named in a clear "unsupported" error. */
const UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set([
  "F64", "I8", "U8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
]);

/** The largest header Kiln accepts; real checkpoints have headers of a few hundred kilobytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor of the header; `begin`/`end` are byte offsets into the data section (after the header). */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Entries in header order. */
  readonly entries: readonly SafetensorsEntry[];
  /** The optional `__metadata__` string map. */
  readonly metadata: ReadonlyMap<string, string>;
  /** Byte offset of the data section in the file: 8 + header length. */
  readonly dataStart: number;
}

export interface SafetensorsFile {
  readonly path: string;
  /** Tensors in header order; each views the file's bytes (a tensor at a misaligned offset is the one copy). */
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly metadata: ReadonlyMap<string, string>;
}

/** Where the bytes of a file come from: a whole read today; the native backend may supply an mmap later. */
export type ByteSource = (path: string) => Uint8Array;

/** Largest chunk of one `readSync` call (Node caps a single read near 2 GiB). */
const READ_CHUNK = 1 << 30;

/** Reads a whole file into one unpooled Buffer; an unreadable file is a ModelFormatError. */
export const readFileBytes: ByteSource = (path) => {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new ModelFormatError(path, `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, undefined, { cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    if (size > bufferConstants.MAX_LENGTH) {
      throw new ModelFormatError(path, `file of ${size} bytes is larger than one buffer can hold (${bufferConstants.MAX_LENGTH}); split it into shards`);
    }
    const buf = Buffer.allocUnsafeSlow(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, Math.min(size - off, READ_CHUNK), off);
      if (n === 0) throw new ModelFormatError(path, `file shrank while being read (${off} of ${size} bytes)`);
      off += n;
    }
    return buf;
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, undefined, { cause: e });
  } finally {
    closeSync(fd);
  }
};

/** Reads and validates a safetensors file. */
export function readSafetensors(path: string, readBytes: ByteSource = readFileBytes): SafetensorsFile {
  return decodeSafetensors(readBytes(path), path);
}

/** Validates the header of `bytes` (a whole safetensors file) and returns tensors viewing those bytes. */
export function decodeSafetensors(bytes: Uint8Array, path: string): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, path);
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) tensors.set(e.name, entryTensor(bytes, header.dataStart, e, path));
  return { path, tensors, metadata: header.metadata };
}

/** Parses and checks everything the header claims, against the file's length, before any tensor data is touched. */
export function parseSafetensorsHeader(bytes: Uint8Array, path: string): SafetensorsHeader {
  if (endianness() !== "LE") throw new ModelFormatError(path, "safetensors data is little-endian; this platform is big-endian");
  if (bytes.length < 8) throw new ModelFormatError(path, `file of ${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFormatError(path, `header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const n = Number(headerLen);
  if (8 + n > bytes.length) {
    throw new ModelFormatError(path, `header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch (e) {
    throw new ModelFormatError(path, "header is not valid UTF-8", undefined, { cause: e });
  }
  const json = parseJsonText(text, path, "header");
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ModelFormatError(path, `header must be a JSON object, got ${describe(json)}`);
  }
  const dup = firstDuplicateKey(text);
  if (dup !== undefined) throw new ModelFormatError(path, "tensor name appears twice in the header", dup);

  let metadata: ReadonlyMap<string, string> = new Map();
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(info, path);
      continue;
    }
    entries.push(parseEntry(name, info, dataLength, path));
  }

  const byBegin = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byBegin.length; i++) {
    const prev = byBegin[i - 1]!;
    const cur = byBegin[i]!;
    if (cur.begin < prev.end) {
      throw new ModelFormatError(
        path,
        `bytes [${cur.begin}, ${cur.end}) overlap tensor '${prev.name}' at [${prev.begin}, ${prev.end})`,
        cur.name,
      );
    }
  }
  return { entries, metadata, dataStart };
}

function parseMetadata(info: unknown, path: string): ReadonlyMap<string, string> {
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new ModelFormatError(path, `__metadata__ must be an object of strings, got ${describe(info)}`);
  }
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
    if (typeof v !== "string") throw new ModelFormatError(path, `__metadata__.${k} must be a string, got ${describe(v)}`);
    out.set(k, v);
  }
  return out;
}

function parseEntry(name: string, info: unknown, dataLength: number, path: string): SafetensorsEntry {
  const fail = (msg: string): never => {
    throw new ModelFormatError(path, msg, name);
  };
  if (info === null || typeof info !== "object" || Array.isArray(info)) fail(`entry must be an object, got ${describe(info)}`);
  const { dtype: rawDType, shape: rawShape, data_offsets: rawOffsets } = info as Record<string, unknown>;

  if (typeof rawDType !== "string") return fail(`dtype must be a string, got ${describe(rawDType)}`);
  const dtype = Object.hasOwn(SAFETENSORS_DTYPES, rawDType) ? SAFETENSORS_DTYPES[rawDType]! : undefined;
  if (dtype === undefined) {
    const known = Object.keys(SAFETENSORS_DTYPES).join(", ");
    return fail(
      UNSUPPORTED_DTYPES.has(rawDType)
        ? `dtype ${rawDType} is not supported by Kiln (supported: ${known})`
        : `unknown dtype ${JSON.stringify(rawDType)} (supported: ${known})`,
    );
  }

  if (!Array.isArray(rawShape)) return fail(`shape must be an array, got ${describe(rawShape)}`);
  let numel = 1;
  for (const d of rawShape as unknown[]) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) fail(`shape ${describe(rawShape)} must hold non-negative integers`);
    numel *= d as number;
    if (!Number.isSafeInteger(numel)) fail(`shape ${describe(rawShape)} has too many elements`);
  }
  const shape = rawShape as number[];

  if (!Array.isArray(rawOffsets) || rawOffsets.length !== 2) return fail(`data_offsets must be [begin, end], got ${describe(rawOffsets)}`);
  const [begin, end] = rawOffsets as unknown[];
  if (typeof begin !== "number" || typeof end !== "number" || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    return fail(`data_offsets ${describe(rawOffsets)} must be integers with 0 <= begin <= end`);
  }
  if (end > dataLength) fail(`data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (truncated?)`);
  const want = numel * ITEM_SIZE[dtype];
  if (end - begin !== want) {
    fail(`holds ${end - begin} bytes, but shape [${shape.join(", ")}] of ${rawDType} needs ${want}`);
  }
  return { name, dtype, shape: Object.freeze([...shape]), begin, end };
}

/** A typed-array view of one tensor's bytes; a misaligned tensor is copied once with `slice` to an aligned buffer. */
function entryTensor(bytes: Uint8Array, dataStart: number, e: SafetensorsEntry, path: string): Tensor {
  const item = ITEM_SIZE[e.dtype];
  const count = (e.end - e.begin) / item;
  const start = bytes.byteOffset + dataStart + e.begin;
  const [buffer, byteOffset] =
    start % item === 0 ? [bytes.buffer, start] : [copyBytes(bytes, dataStart + e.begin, dataStart + e.end).buffer, 0];
  const storage = typedView(e.dtype, buffer, byteOffset, count);
  if (e.dtype === "bool") {
    const bad = (storage as Uint8Array).findIndex((b) => b > 1);
    if (bad >= 0) throw new ModelFormatError(path, `bool element ${bad} holds byte ${(storage as Uint8Array)[bad]}, not 0 or 1`, e.name);
  }
  return new Tensor(e.dtype, e.shape, storage);
}

/** A fresh, aligned copy of a byte range (Buffer's `slice` would return a view, hence the explicit copy). */
function copyBytes(bytes: Uint8Array, begin: number, end: number): Uint8Array {
  const out = new Uint8Array(end - begin);
  out.set(bytes.subarray(begin, end));
  return out;
}

function typedView(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, count: number): Storage {
  switch (dtype) {
    case "f32":
      return new Float32Array(buffer, byteOffset, count);
    case "bf16":
    case "f16":
      return new Uint16Array(buffer, byteOffset, count);
    case "i32":
      return new Int32Array(buffer, byteOffset, count);
    case "i64":
      return new BigInt64Array(buffer, byteOffset, count);
    case "bool":
      return new Uint8Array(buffer, byteOffset, count);
    default:
      return dtype satisfies never;
  }
}

/**
 * The first key that occurs twice at the top level of a JSON object text (JSON.parse keeps the last silently).
 * `text` is already known to be valid JSON, so a small scan of strings and nesting suffices.
 */
function firstDuplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
      }
      expectKey = false;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}
