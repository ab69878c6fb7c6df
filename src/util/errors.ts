// The KilnError family: every failure a user can cause is one of these, with a code and the offending data.

export interface ErrorOptions {
  cause?: unknown;
}

/** Base of every error Kiln throws on purpose. `code` is stable and machine-readable. */
export abstract class KilnError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

function fmtShape(shape: unknown): string {
  return Array.isArray(shape) ? `[${shape.map(String).join(", ")}]` : String(shape);
}

/** A shape that an op cannot accept: names the op, what it expected and what it got. */
export class ShapeError extends KilnError {
  readonly code = "E_SHAPE";
  constructor(
    readonly op: string,
    readonly expected: string,
    readonly received: unknown,
    detail?: string,
  ) {
    super(`${op}: expected ${expected}, got ${fmtShape(received)}${detail ? ` (${detail})` : ""}`);
  }
}

/** A dtype that an op cannot accept, or a dtype name Kiln does not know. */
export class DTypeError extends KilnError {
  readonly code = "E_DTYPE";
  constructor(
    readonly op: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${op}: expected dtype ${expected}, got ${String(received)}`);
  }
}

/** A call with the wrong number or kind of arguments. */
export class ArgumentError extends KilnError {
  readonly code = "E_ARGUMENT";
  constructor(
    readonly fn: string,
    message: string,
  ) {
    super(`${fn}: ${message}`);
  }
}

/** User code did something the tracer cannot capture; `sourceLine` is where in the user's code. */
export class TraceError extends KilnError {
  readonly code = "E_TRACE";
  constructor(
    message: string,
    readonly sourceLine?: string,
    options?: ErrorOptions,
  ) {
    super(sourceLine ? `${message}\n    at ${sourceLine}` : message, options);
  }
}

/** An op that a backend or pass does not implement. */
export class UnsupportedOpError extends KilnError {
  readonly code = "E_UNSUPPORTED_OP";
  constructor(
    readonly op: string,
    readonly where: string,
  ) {
    super(`${where}: op '${op}' is not supported`);
  }
}

/** A compile was needed under the `fail_on_recompile` stance. */
export class RecompileError extends KilnError {
  readonly code = "E_RECOMPILE";
  constructor(
    readonly fnName: string,
    readonly guard: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${fnName}: recompile needed under stance 'fail_on_recompile': guard ${guard} expected ${expected}, got ${got}`);
  }
}

/** A stored artifact's guard does not hold in this process. */
export class GuardMismatchError extends KilnError {
  readonly code = "E_GUARD_MISMATCH";
  constructor(
    readonly guard: string,
    readonly expected: string,
    readonly got: string,
    readonly context = "",
  ) {
    super(`${context ? `${context}: ` : ""}guard ${guard} failed: expected ${expected}, got ${got}`);
  }
}

/** No bundle exists for a key and compiling is not allowed. */
export class CacheMissError extends KilnError {
  readonly code = "E_CACHE_MISS";
  constructor(
    readonly prefix: string,
    readonly reason: string,
  ) {
    super(`cache miss for ${prefix}: ${reason}`);
  }
}

/** A bundle section fails its checksum, is truncated or malformed. */
export class BundleCorruptError extends KilnError {
  readonly code = "E_BUNDLE_CORRUPT";
  constructor(
    readonly path: string,
    readonly section: string,
    reason: string,
  ) {
    super(`bundle ${path}: section ${section}: ${reason}`);
  }
}

/** No C compiler could be found or run. */
export class CompilerNotFoundError extends KilnError {
  readonly code = "E_COMPILER_NOT_FOUND";
  constructor(readonly tried: readonly string[]) {
    super(`no C compiler found (tried ${tried.join(", ")}); set KILN_CC or use KILN_BACKEND=js`);
  }
}

/** The native runtime's C files (src/backend/native/csrc) are not where an installed Kiln ships them. */
export class RuntimeSourcesNotFoundError extends KilnError {
  readonly code = "E_RUNTIME_SOURCES_NOT_FOUND";
  constructor(readonly tried: readonly string[]) {
    super(`Kiln's native runtime sources are missing (looked in ${tried.join(", ")}); reinstall Kiln or use KILN_BACKEND=js`);
  }
}

/** The C compiler rejected generated code; keeps its stderr and the source file it was given. */
export class CompileError extends KilnError {
  readonly code = "E_COMPILE";
  constructor(
    readonly stderr: string,
    readonly sourcePath: string,
    options?: ErrorOptions,
  ) {
    super(`C compiler failed on ${sourcePath}:\n${stderr}`, options);
  }
}

/** A model file (safetensors, config) is malformed or does not match the model. */
export class ModelFormatError extends KilnError {
  readonly code = "E_MODEL_FORMAT";
  constructor(
    readonly path: string,
    message: string,
    readonly tensorName?: string,
    options?: ErrorOptions,
  ) {
    super(`${path}${tensorName ? ` (${tensorName})` : ""}: ${message}`, options);
  }
}

/** A broken internal invariant: a Kiln bug, never bad input. */
export class InternalError extends KilnError {
  readonly code = "E_INTERNAL";
}

/** A folder or file on the way to loaded code could be written by someone else (or is a link), so it is not used. */
export class UntrustedCacheError extends KilnError {
  readonly code = "E_UNTRUSTED_CACHE";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`refusing to use ${path}: ${reason} (fix its permissions, e.g. chmod go-w, or set KILN_CACHE_ALLOW_INSECURE=1)`);
  }
}

/** A file-system operation of the cache (or of loading code) failed: names the path, the operation and errno. */
export class CacheIoError extends KilnError {
  readonly code = "E_CACHE_IO";
  readonly errno: string | undefined;
  constructor(
    readonly path: string,
    readonly operation: string,
    cause: unknown,
  ) {
    const errno = (cause as NodeJS.ErrnoException)?.code;
    super(`cannot ${operation} ${path}: ${errno ?? (cause as Error)?.message ?? String(cause)}`, { cause });
    this.errno = errno;
  }
}
