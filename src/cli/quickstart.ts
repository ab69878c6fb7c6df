// `kiln quickstart` (what `npm start` runs): makes the tiny Qwen3 model if absent, then runs
// `kiln generate` on it twice in fresh processes — cold (empty cache: trace + compile) and warm
// (the bundle loads) — so the first thing a new user sees is both start times.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveCacheRoot } from "../cache/index.js";
import { makeModel } from "../models/index.js";

export function runQuickstart(say: (line: string) => void): void {
  const root = resolveCacheRoot() ?? join(tmpdir(), "kiln");
  const model = join(root, "models", "tiny");
  if (!existsSync(join(model, "config.json"))) {
    const made = makeModel({ preset: "tiny", out: model, force: true });
    say(`made ${model}: tiny Qwen3, ${(made.parameters / 1e6).toFixed(1)}M parameters, random weights`);
  }
  // A cache of its own, emptied first, so the first run is cold whatever ran before.
  const cache = join(root, "quickstart-cache");
  rmSync(cache, { recursive: true, force: true });
  const cli = fileURLToPath(import.meta.url).replace(/quickstart\.js$/, "main.js");
  for (const label of ["cold (trace + compile)", "warm (bundle loaded)"]) {
    say(`\n$ kiln generate --model ${model} --prompt "The capital of France is" --max-tokens 16    # ${label}`);
    const t0 = performance.now();
    execFileSync(process.execPath, [cli, "generate", "--model", model, "--prompt", "The capital of France is", "--max-tokens", "16"], {
      env: { ...process.env, KILN_CACHE_DIR: cache }, stdio: ["ignore", "inherit", "inherit"],
    });
    say(`process start → exit: ${(performance.now() - t0).toFixed(0)} ms`);
  }
}
