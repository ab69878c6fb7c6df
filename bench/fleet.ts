// `npm run bench -- fleet [--model DIR] [--dtype bf16|f32] [--reps 3]`: a replica's start through the fleet cache, as a
// fleet sees it — the qwen3-0.6b preset (made when absent), `kiln generate` processes to their first token:
// - local cold (empty local cache, no remote: trace + compile), local warm (bundle in the local cache);
// - remote warm: an empty local cache and a warm remote — Redis on loopback (a redis-server this benchmark starts)
//   and a shared folder;
// - the overhead of an unreachable store (a closed port) listed before the working Redis on such a start.
// The floor is Node's own start (`node -e 0`) in the same run. Table, then one JSON line.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort } from "../test/helpers/free-port.js";
import { modelDir } from "./llm.js";
import { arg, median, printJsonLine, printTable, type Row } from "./report.js";

const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/** A fresh `kiln generate` to its first token (the child's clock) and the outcome of its cache. */
function start(dir: string, cache: string, remote?: string): { ms: number; outcome: string } {
  const env = { ...process.env, KILN_CACHE_DIR: cache, ...(remote ? { KILN_CACHE_REMOTE: remote } : {}) };
  if (!remote) delete env.KILN_CACHE_REMOTE;
  const out = execFileSync(process.execPath, [cli, "generate", "--model", dir, "--prompt-ids", "1,2,3,4,5,6,7,8", "--max-tokens", "1", "--json"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const r = JSON.parse(out) as { timings: { first_token_at_ms: number }; compile: { outcomes: string[] } };
  return { ms: r.timings.first_token_at_ms, outcome: r.compile.outcomes.join(",") };
}

async function redisServer(): Promise<{ url: string; child: ChildProcess } | undefined> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return undefined;
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; i < 200; i++) {
    if (spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() === "PONG") return { url: `redis://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill();
  throw new Error("redis-server did not start");
}

export async function run(args: string[]): Promise<void> {
  const dir = modelDir(arg(args, "dtype") ?? "bf16", arg(args, "model"));
  const reps = Number(arg(args, "reps") ?? 3);
  const tmp = mkdtempSync(join(tmpdir(), "kiln-bench-fleet-"));
  const redis = await redisServer();
  let fresh = 0;
  const empty = () => join(tmp, `local-${fresh++}`);
  try {
    const nodeMs = median(Array.from({ length: reps }, () => {
      const t0 = performance.now();
      execFileSync(process.execPath, ["-e", "0"]);
      return performance.now() - t0;
    }));
    const cold = start(dir, empty());
    const warmCache = empty();
    start(dir, warmCache);
    const localWarm = median(Array.from({ length: reps }, () => start(dir, warmCache).ms));
    const folder = pathToFileURL(join(tmp, "fleet")).href;
    start(dir, empty(), folder); // compiles and publishes
    const folderWarm = Array.from({ length: reps }, () => start(dir, empty(), folder));
    const rows: Row[] = [
      { start: "node -e 0 (the floor)", "first token ms": nodeMs, "× local warm": nodeMs / localWarm, outcome: "-" },
      { start: "local cold", "first token ms": cold.ms, "× local warm": cold.ms / localWarm, outcome: cold.outcome },
      { start: "local warm", "first token ms": localWarm, "× local warm": 1, outcome: "loaded" },
      { start: "remote warm, shared folder", "first token ms": median(folderWarm.map((r) => r.ms)), "× local warm": median(folderWarm.map((r) => r.ms)) / localWarm, outcome: folderWarm[0]!.outcome },
    ];
    const json: Record<string, number | string> = { node_ms: nodeMs, local_cold_ms: cold.ms, local_warm_ms: localWarm, folder_warm_ms: median(folderWarm.map((r) => r.ms)) };
    if (redis) {
      start(dir, empty(), redis.url);
      const redisWarm = Array.from({ length: reps }, () => start(dir, empty(), redis.url));
      const closed = `redis://127.0.0.1:${await freePort()}`;
      const behindClosed = Array.from({ length: reps }, () => start(dir, empty(), `${closed},${redis.url}`));
      const r = median(redisWarm.map((x) => x.ms));
      const c = median(behindClosed.map((x) => x.ms));
      rows.push(
        { start: "remote warm, Redis on loopback", "first token ms": r, "× local warm": r / localWarm, outcome: redisWarm[0]!.outcome },
        { start: "same, an unreachable Redis listed first", "first token ms": c, "× local warm": c / localWarm, outcome: behindClosed[0]!.outcome },
      );
      Object.assign(json, { redis_warm_ms: r, redis_behind_unreachable_ms: c, unreachable_overhead_ms: c - r, cold_over_redis_warm: cold.ms / r });
    } else {
      json.redis = "redis-server not installed";
    }
    printTable(`fleet cache: process start → first token (qwen3-0.6b preset, 8-token prompt; median of ${reps}; targets: remote warm ≤ 1.5× local warm and ≥ 20× faster than cold; an unreachable store < 300 ms)`, rows);
    printJsonLine("fleet", json);
  } finally {
    redis?.child.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}
