// Finds the user's code in a stack trace: the frames outside Kiln's own source tree.
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** Kiln's own code root (src/ or dist/src/): frames under it are never the user's. */
const KILN_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** Deep enough to see past Kiln's dispatch frames into nested user modules. */
const STACK_DEPTH = 128;

export interface UserFrame {
  /** Absolute file path, for fingerprinting the file's contents. */
  readonly file: string;
  /** `file.ts:42:13`: the basename, so nothing machine-specific leaks into graphs. */
  readonly line: string;
  /** Whether the frame runs inside the traced code (above `boundary`), rather than in its caller. */
  readonly traced: boolean;
}

const FRAME = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/;

/** The current call stack's text, captured deeper than V8's default of 10 frames. */
export function captureStack(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_DEPTH;
  try {
    return new Error().stack ?? "";
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Every user frame of `stack`, innermost first. Frames below the first one of a function named
 * `boundary` (the tracer's call into the traced code) belong to the caller: `traced` is false.
 */
export function userFrames(stack = captureStack(), boundary?: string): UserFrame[] {
  const out: UserFrame[] = [];
  let traced = true;
  for (const raw of stack.split("\n").slice(1)) {
    if (boundary && traced && raw.trim().startsWith(`at ${boundary} `)) traced = false;
    const m = FRAME.exec(raw.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith("file://")) file = fileURLToPath(file);
    if (file.startsWith("node:") || !file.startsWith("/") || file.startsWith(KILN_ROOT + "/")) continue;
    if (file.includes("/node_modules/")) continue;
    out.push({ file, line: `${basename(file)}:${m[2]}:${m[3]}`, traced });
  }
  return out;
}

/** The innermost user frame: where the user's code called into Kiln. */
export function userFrame(stack = captureStack()): UserFrame | undefined {
  return userFrames(stack)[0];
}
