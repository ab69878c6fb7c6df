// The JSON of a model folder (config.json, tokenizer files, the safetensors index and header): parsed into
// one-line ModelFormatErrors naming the file, with a nesting limit checked before any recursive code walks the value.
import { readFileSync } from "node:fs";
import { ModelFormatError } from "../util/index.js";

/**
 * Far deeper than any real model file (config.json nests 3 levels, tokenizer.json 5), far shallower than the stack:
 * structuredClone, JSON.stringify and the tokenizer library recurse, and a deeper value would overflow them.
 */
export const MAX_JSON_DEPTH = 64;

/** Reads and parses a JSON file; `what` names it in messages ("config", "index"). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ModelFormatError(path, `cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, undefined, { cause: e });
  }
  return parseJsonText(text, path, what);
}

/** Checks the text's depth (one pass over its characters, far cheaper than walking the parsed value), then parses it. */
export function parseJsonText(text: string, path: string, what: string): unknown {
  checkJsonTextDepth(text, path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error, newlines and all: keep the message one line.
    throw new ModelFormatError(path, `${what} is not valid JSON: ${(e as Error).message.replace(/\s+/g, " ")}`, undefined, { cause: e });
  }
  return json;
}

/** Throws when JSON text nests objects or arrays deeper than `maxDepth` (brackets inside strings do not count). */
export function checkJsonTextDepth(text: string, path: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new ModelFormatError(path, `JSON nests deeper than ${maxDepth} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/** Throws when `value` nests objects or arrays deeper than `maxDepth`; iterative, so any depth is safe to check. */
export function checkJsonDepth(value: unknown, path: string, maxDepth = MAX_JSON_DEPTH): void {
  const stack: [object, number][] = value !== null && typeof value === "object" ? [[value, 1]] : [];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > maxDepth) throw new ModelFormatError(path, `JSON nests deeper than ${maxDepth} levels`);
    for (const x of Object.values(v)) if (x !== null && typeof x === "object") stack.push([x as object, depth + 1]);
  }
}

/** A JSON value in an error message, cut to 60 characters. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
