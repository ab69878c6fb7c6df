// InputKind: what a graph input stands for — a call argument, a module parameter or a module buffer.

export const INPUT_KINDS = ["arg", "param", "buffer"] as const;

export type InputKind = (typeof INPUT_KINDS)[number];

export function isInputKind(v: unknown): v is InputKind {
  return typeof v === "string" && (INPUT_KINDS as readonly string[]).includes(v);
}
