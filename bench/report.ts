// Benchmark output: an aligned table for people, then one JSON line for scripts.

export type Row = Record<string, string | number>;

function cell(v: string | number): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 0.01 ? v.toFixed(3) : v.toExponential(2);
}

export function printTable(title: string, rows: readonly Row[]): void {
  if (rows.length === 0) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = rows.map((r) => cols.map((c) => (r[c] === undefined ? "" : cell(r[c]!))));
  const widths = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padStart(widths[i]!)).join("  ");
  console.log(`\n${title}`);
  console.log(line(cols));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const t of text) console.log(line(t));
}

/** The one machine-readable line a benchmark prints last. */
export function printJsonLine(name: string, data: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: name, ...data }));
}

/** Median wall time of `fn` in milliseconds over `iters` runs after `warmup` runs. */
export async function timeMs(fn: () => unknown, iters = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
