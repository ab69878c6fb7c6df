// Benchmark output: an aligned table for people, then one JSON line for scripts; and the small helpers every benchmark
// shares (its `--name value` arguments, the median of its runs).

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

/** The value after `--name` in a benchmark's arguments. */
export function arg(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The middle value (the mean of the two middle ones for an even count: with 2 runs, not the slower one). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
