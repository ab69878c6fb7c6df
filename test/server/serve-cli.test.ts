// `kiln serve` as a process: bad flags fail in one line; the port opens before the model is ready and stdout gets
// exactly one line when it is; --api-key guards the API but not health and metrics; SIGTERM during a stream exits 0
// within a bounded time.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { KILN_CLI, runKiln } from "../helpers/kiln-cli.js";
import { postJson, tinyModelDir, until } from "./serve-helpers.js";

const fixture = tinyModelDir();
after(() => fixture.cleanup());

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `kiln serve --port 0 …` and resolves once it is listening (its URL from the stderr line). */
async function serve(args: string[], cache = join(fixture.dir, "cli-cache")): Promise<Served> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("KILN_")) env[k] = v;
  const child = spawn(process.execPath, [...process.execArgv, KILN_CLI, "serve", "--model", fixture.model, "--backend", "js", "--port", "0", ...args], {
    env: { ...env, KILN_CACHE_DIR: cache }, stdio: ["ignore", "pipe", "pipe"],
  });
  const s = { child, url: "", stdout: "", stderr: "" } as { -readonly [K in keyof Served]: Served[K] };
  child.stdout!.on("data", (d) => (s.stdout += d));
  child.stderr!.on("data", (d) => (s.stderr += d));
  s.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  s.url = await until("the listening line", async () => /listening on (http:\/\/\S+);/.exec(s.stderr)?.[1], 30_000);
  return s;
}

test("bad flags, a port in use, a missing model: one line naming the problem, exit 1", async () => {
  for (const [flag, value] of [["--port", "http"], ["--max-num-seqs", "0"], ["--dtype", "f8"], ["--threads", "999"]] as const) {
    const r = runKiln(["serve", "--model", fixture.model, flag, value]);
    assert.equal(r.status, 1, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^kiln: E_ARGUMENT: ${flag}: expected .*\\n$`));
  }
  const budget = runKiln(["serve", "--model", fixture.model, "--max-num-seqs", "32", "--max-num-batched-tokens", "16"]);
  assert.equal(budget.status, 1);
  assert.match(budget.stderr, /^kiln: E_ARGUMENT: --max-num-batched-tokens: must be at least --max-num-seqs \(32\), got 16\n$/);
  const taken = createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  const busy = runKiln(["serve", "--model", fixture.model, "--port", String((taken.address() as AddressInfo).port), "--backend", "js"]);
  taken.close();
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /^kiln: E_LISTEN: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE\n$/);
  const missing = runKiln(["serve", "--model", join(fixture.dir, "nothing-here"), "--port", "0", "--backend", "js"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^kiln: E_[A-Z_]+: .*nothing-here/m);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
});

test("cold cache: the port is open before ready (/health 503 with a phase, or already 200), one stdout line when ready; --api-key guards the API", async () => {
  const s = await serve(["--served-model-name", "tiny", "--api-key", "sesame"]);
  try {
    const statuses: number[] = [];
    await until("ready", async () => {
      const r = await fetch(`${s.url}/health`);
      const body = (await r.json()) as { status: string; phase?: string };
      statuses.push(r.status);
      if (r.status === 503) assert.ok(["loading_weights", "loading_bundle", "compiling", "warmup", "loading_tokenizer"].includes(body.phase!), JSON.stringify(body));
      return r.status === 200 ? true : undefined;
    }, 60_000);
    await until("the ready line", async () => (s.stdout.includes("\n") ? true : undefined));
    assert.equal(s.stdout, `kiln: serving tiny on ${s.url}\n`);
    assert.equal((await fetch(`${s.url}/v1/models`)).status, 401);
    const wrong = await fetch(`${s.url}/v1/models`, { headers: { authorization: "Bearer open" } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: { type: string } }).error.type, "authentication_error");
    assert.equal((await fetch(`${s.url}/v1/models`, { headers: { authorization: "Bearer sesame" } })).status, 200);
    assert.equal((await postJson(`${s.url}/v1/completions`, { prompt: "hi", max_tokens: 2 })).status, 401);
    assert.equal((await postJson(`${s.url}/v1/completions`, { prompt: "hi", max_tokens: 2 }, { authorization: "Bearer sesame" })).status, 200);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
    s.child.kill("SIGTERM");
    assert.deepEqual(await s.exited, { code: 0, signal: null });
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("SIGTERM during a stream: the stream ends, the process exits 0 within the grace period", async () => {
  const s = await serve(["--shutdown-grace", "1"]);
  try {
    await until("ready", async () => ((await fetch(`${s.url}/health`)).status === 200 ? true : undefined), 60_000);
    const r = await fetch(`${s.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Go on", max_tokens: 4000, ignore_eos: true, stream: true, temperature: 0 }),
    });
    const reader = r.body!.getReader();
    await reader.read();
    const t0 = Date.now();
    s.child.kill("SIGTERM");
    // The client sees its stream end (cut short) rather than hang.
    await (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // the connection was closed under the reader
      }
    })();
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 10_000, "bounded shutdown");
    assert.match(s.stderr, /stopping \(SIGTERM\)/);
  } finally {
    s.child.kill("SIGKILL");
  }
});
