// Finds the user's code in a stack trace: the first frame outside Kiln's own source tree.
import { dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";

/** Kiln's own code root (src/ or dist/src/): frames under it are never the user's. */
const KILN_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

export interface UserFrame {
  /** Absolute file path, for fingerprinting the file's contents. */
  readonly file: string;
  /** `file.ts:42:13`: the basename, so nothing machine-specific leaks into graphs. */
  readonly line: string;
}

const FRAME = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/;

export function userFrame(stack = new Error().stack ?? ""): UserFrame | undefined {
  for (const raw of stack.split("\n").slice(1)) {
    const m = FRAME.exec(raw.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith("file://")) file = fileURLToPath(file);
    if (file.startsWith("node:") || !file.startsWith("/") || file.startsWith(KILN_ROOT + "/")) continue;
    if (file.includes("/node_modules/")) continue;
    return { file, line: `${basename(file)}:${m[2]}:${m[3]}` };
  }
  return undefined;
}
