// Internal invariant checks: a failure here is a Kiln bug, reported as InternalError.
import { InternalError } from "./errors.js";

export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new InternalError(message);
}

/** For exhaustive switches: `default: return unreachable(x)` where x is `never`. */
export function unreachable(x: never, what = "value"): never {
  throw new InternalError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
