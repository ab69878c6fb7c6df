// The parameter list of a JS function, read from its source text: names (for `dynamic: { x: [0] }`
// and error messages) and how many arguments it can take.

export interface Signature {
  /** One entry per declared parameter: its name, or undefined for a destructuring pattern. */
  readonly names: readonly (string | undefined)[];
  /** True when it takes any number of arguments (a rest parameter, or a source we cannot read). */
  readonly variadic: boolean;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const OPEN = "([{";
const CLOSE = ")]}";

/** Splits `text` at top-level commas, skipping strings, template literals and comments. */
function splitTopLevel(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
      if (i >= text.length) return undefined;
    } else if (c === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      if (i < 0) i = text.length;
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2);
      if (i < 0) return undefined;
      i++;
    } else if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The text between the parameter list's parentheses (undefined when there is none to read). */
function parameterText(source: string): string | undefined {
  const open = source.indexOf("(");
  if (open < 0) return undefined;
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === "`") {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === "\\") i++;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return source.slice(open + 1, i);
  }
  return undefined;
}

const stripComments = (s: string) => s.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, "").trim();

/** Best effort from `Function.prototype.toString`; anything unreadable counts as variadic. */
export function signatureOf(fn: Function): Signature {
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) return { names: [], variadic: true };
  const arrowSingle = /^(?:async\s*)?([A-Za-z_$][\w$]*)\s*=>/.exec(source);
  if (arrowSingle) return { names: [arrowSingle[1]], variadic: false };
  const list = parameterText(source);
  const parts = list === undefined ? undefined : splitTopLevel(list);
  if (!parts) return { names: [], variadic: true };
  const params = parts.map(stripComments);
  if (params.length > 0 && params[params.length - 1] === "") params.pop(); // trailing comma, or no parameters
  let variadic = false;
  const names = params.map((p) => {
    if (p.startsWith("...")) {
      variadic = true;
      return undefined;
    }
    const name = p.split("=")[0]!.trim();
    return IDENT.test(name) ? name : undefined;
  });
  if (variadic) names.pop();
  return { names, variadic };
}

/** Parameter names of `fn` (undefined for destructuring patterns). */
export function paramNames(fn: Function): (string | undefined)[] {
  return [...signatureOf(fn).names];
}
