// Parameter names of a JS function, read from its source text (for `dynamic: { x: [0] }`).

/** Best effort: plain identifiers of the first parameter list; others (destructuring, rest) become undefined. */
export function paramNames(fn: Function): (string | undefined)[] {
  const text = Function.prototype.toString.call(fn);
  const arrowSingle = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (arrowSingle) return [arrowSingle[1]];
  const open = text.indexOf("(");
  if (open < 0) return [];
  let depth = 0;
  let end = open;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) {
      end = i;
      break;
    }
  }
  const list = text.slice(open + 1, end).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  if (!list.trim()) return [];
  return list.split(",").map((p) => /^\s*([A-Za-z_$][\w$]*)\s*(?:[=:?].*)?$/s.exec(p)?.[1]);
}
