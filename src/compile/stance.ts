// The compile stance, as torch.compiler.set_stance: how compiled functions react to a needed compile.
import { ArgumentError } from "../util/index.js";

export const STANCES = ["default", "fail_on_recompile", "eager"] as const;
export type Stance = (typeof STANCES)[number];

let current: Stance = "default";

export function setStance(stance: Stance): Stance {
  if (!(STANCES as readonly string[]).includes(stance)) throw new ArgumentError("setStance", `unknown stance '${stance}' (use ${STANCES.join(", ")})`);
  const prev = current;
  current = stance;
  return prev;
}

export function getStance(): Stance {
  return current;
}

/** Runs `fn` under `stance`, restoring the previous stance after. */
export function withStance<T>(stance: Stance, fn: () => T): T {
  const prev = setStance(stance);
  try {
    return fn();
  } finally {
    setStance(prev);
  }
}
