// dlopen of verified bytes, and nothing else: the bytes are written to a fresh file (O_EXCL) in a folder this
// process created private (mkdtemp, 0700, checked), loaded at once and unlinked (the mapping stays). Nothing is
// loaded by a path another process could have written or could still be writing, and nothing is rewritten in
// place, so a read-only or shared cache serves as well as a private one. TMPDIR chooses the folder's parent.
import { constants as osConstants, tmpdir } from "node:os";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { KilnError, bump, makePrivateTempDir, writeFreshFile } from "../../util/index.js";
import { removeAtExit } from "./temp-dirs.js";
import type { VerifiedObject } from "./verified-object.js";

/** A verified object that the dynamic loader refused (wrong platform, missing symbol, not an N-API module). */
export class NativeLoadError extends KilnError {
  readonly code = "E_NATIVE_LOAD";
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`cannot load ${what}: ${reason}`);
  }
}

let loadDir: string | undefined;
let serial = 0;

function privateLoadDir(): string {
  if (!loadDir) {
    loadDir = makePrivateTempDir(tmpdir(), "kiln-load-");
    removeAtExit(loadDir);
  }
  return loadDir;
}

/** dlopens `object` as a Node addon and returns its exports. */
export function loadAddon<T extends object>(object: VerifiedObject): T {
  const file = join(privateLoadDir(), `${object.sha256.slice(0, 16)}.${process.pid}.${serial++}.node`);
  writeFreshFile(file, object.bytes);
  bump("objectsExtracted");
  const holder = { exports: {} as T };
  try {
    process.dlopen(holder, file, osConstants.dlopen.RTLD_NOW);
  } catch (e) {
    throw new NativeLoadError(`object ${object.sha256.slice(0, 16)}`, (e as Error).message);
  } finally {
    rmSync(file, { force: true });
  }
  return holder.exports;
}
