#!/usr/bin/env node
// The `kiln` command.
import { Command } from "commander";
import { PRESETS } from "../models/index.js";
import { KilnError } from "../util/index.js";

// Each command's module is imported when that command runs: a warm `kiln generate` does not pay for the server's
// request schemas and metrics (zod and prom-client alone take ≈ 150 ms to import), nor `kiln cache ls` for the engine.
const demo = () => import("./demo.js");
const quickstart = () => import("./quickstart.js");
const generate = () => import("./generate-command.js");
const makeModel = () => import("./make-model-command.js");
const serve = () => import("./serve-command.js");
const cacheCommands = () => import("./cache-command.js");
const presetHelp = Object.values(PRESETS).map((p) => `${p.name}: ${p.description}`).join("; ");
const DEFAULT_SHUTDOWN_GRACE_S = "5";

// Exit codes: 1 for a failure Kiln names (a KilnError: bad input, a refused cache, …), 2 for a usage error
// (commander's own), 70 (EX_SOFTWARE) for anything else — a Kiln bug: one line, the stack only with KILN_LOG=debug.
const program = new Command("kiln").description("Kiln: an ahead-of-time ML compiler for TypeScript").version("0.1.0").exitOverride();

program
  .command("demo")
  .description("compile and run a small decoder model Kiln makes itself, against eager execution")
  .action(async () => (await demo()).runDemo((line) => console.log(line)));

const say = (line: string) => console.log(line);
program
  .command("quickstart")
  .description("make the tiny model if absent, then generate with it cold and warm (what npm start runs)")
  .action(async () => (await quickstart()).runQuickstart(say));
const modelOptions = (c: Command) =>
  c
    .requiredOption("--model <dir>", "model folder (config.json, *.safetensors, tokenizer.json)")
    .option("--backend <name>", "native | js | auto")
    .option("--dtype <dtype>", "weight storage: f32 | bf16 (default: as the weights are stored)")
    .option("--kv-cache-tokens <n>", "tokens the KV cache holds (default min(4096, context))")
    .option("--kv-cache-dtype <dtype>", "KV cache storage: f32 | bf16 (half the memory and attention traffic; default f32)")
    .option("--threads <n>", "native threads, 1..256 (default: physical cores)");
modelOptions(program.command("generate"))
  .description("generate text with a Hugging Face model folder (Llama / Qwen3), compiled ahead of time via the cache")
  .option("--prompt <text>", "prompt text (uses the folder's tokenizer)")
  .option("--prompt-ids <ids>", "prompt as comma-separated token ids (no tokenizer needed)")
  .option("--max-tokens <n>", "tokens to generate", "32")
  .option("--temperature <t>", "0 is greedy", "0")
  .option("--top-k <k>", "keep the k most likely tokens")
  .option("--top-p <p>", "nucleus sampling threshold")
  .option("--repetition-penalty <r>", "> 1 discourages repeats")
  .option("--stop <text...>", "stop when the output contains this text")
  .option("--seed <s>", "sampling seed (same seed, same output)", "0")
  .option("--chat", "wrap --prompt as a user turn in the model's chat template")
  .option("--no-think", "with --chat on Qwen3: answer without a thinking block")
  .option("--json", "print one JSON object (ids, text, timings, compile activity) instead of streaming")
  .action(async (o) => (await generate()).runGenerate(o, (l) => process.stdout.write(l + "\n"), (l) => process.stderr.write(l + "\n")));
modelOptions(program.command("compile"))
  .description("load or compile the model into the AOT cache without generating, so a deployment never compiles")
  .option("--out <dir>", "write into this folder (a cache of its own, to ship) instead of the cache")
  .action(async (o) => (await generate()).runCompile(o, (l) => process.stderr.write(l + "\n")));
modelOptions(program.command("serve"))
  .description("serve the model over an OpenAI-compatible HTTP API (chat, completions, streaming, /metrics)")
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port (0 picks a free one)", "8000")
  .option("--served-model-name <name>", "the model id clients use (default: --model as given)")
  .option("--api-key <key>", "require Authorization: Bearer <key> (health and metrics stay open)")
  .option("--max-num-seqs <n>", "sequences in one batch at most", "16")
  .option("--max-num-batched-tokens <n>", "tokens per step (decodes first, then prefill chunks)", "512")
  .option("--max-queued-requests <n>", "sequences in flight past which requests get 503 + Retry-After", "256")
  .option("--no-prefix-caching", "turn automatic prefix caching off")
  .option("--no-warmup", "skip the one-step warmup before ready")
  .option("--shutdown-grace <s>", "seconds in-flight requests may finish after SIGTERM before being cancelled", DEFAULT_SHUTDOWN_GRACE_S)
  .action(async (o) => (await serve()).runServe(o, say, (l) => process.stderr.write(l + "\n")));
program
  .command("make-model")
  .description("write a Hugging Face model folder (config, real tokenizer, seeded random weights) for a preset")
  .requiredOption("--preset <name>", presetHelp)
  .requiredOption("--out <dir>", "folder to write (must be empty or absent)")
  .option("--dtype <dtype>", "weight dtype: bf16 | f32", "bf16")
  .option("--seed <n>", "weight seed (changes only model.safetensors)", "0")
  .option("--force", "write into a non-empty folder")
  .action(async (o) => (await makeModel()).runMakeModel(o, say, (l) => process.stderr.write(l + "\n")));
const cache = program.command("cache").description("inspect and maintain the AOT cache ($KILN_CACHE_DIR, default ~/.cache/kiln)");
cache.command("ls").description("list bundles: key, prefix, size, created, last used, backend").action(async () => (await cacheCommands()).cacheLs(say));
cache.command("info <pathOrKey>").description("print a bundle's manifest and guards").action(async (t: string) => (await cacheCommands()).cacheInfo(t, say));
cache
  .command("verify")
  .description("check every bundle's checksums and guards")
  .option("--remove", "delete bundles that fail")
  .action(async (o: { remove?: boolean }) => {
    if ((await cacheCommands()).cacheVerify(!!o.remove, say) > 0 && !o.remove) process.exitCode = 1;
  });
cache.command("clear").description("delete every bundle and object").action(async () => (await cacheCommands()).cacheClear(say));
cache
  .command("stats")
  .description("what the local cache and each fleet store (KILN_CACHE_REMOTE) hold")
  .action(async () => (await cacheCommands()).cacheStats(say));
cache
  .command("push")
  .description("publish every local bundle to the fleet cache (KILN_CACHE_REMOTE; signed with KILN_CACHE_SIGN_KEY when set)")
  .action(async () => {
    if ((await cacheCommands()).cachePush(say) > 0) process.exitCode = 1;
  });
cache
  .command("export")
  .description("write every local bundle that verifies into a tar (for air-gapped images; kiln cache import reads it)")
  .requiredOption("-o, --out <file>", "the tar file to write")
  .action(async (o: { out: string }) => {
    if ((await cacheCommands()).cacheExport(o.out, say) > 0) process.exitCode = 1;
  });
cache
  .command("import <file>")
  .description("install the bundles of a tar made by kiln cache export, each verified, into the local cache")
  .action(async (file: string) => {
    if ((await cacheCommands()).cacheImport(file, say) > 0) process.exitCode = 1;
  });
cache
  .command("keygen")
  .description("write an Ed25519 key pair for the fleet cache (KILN_CACHE_SIGN_KEY signs, KILN_CACHE_TRUSTED_KEYS verifies)")
  .requiredOption("--out <dir>", "folder for kiln-cache.key (private, 0600) and kiln-cache.pub")
  .action(async (o: { out: string }) => (await cacheCommands()).cacheKeygen(o.out, say));
cache
  .command("prune")
  .description("delete least recently used bundles down to a size")
  .requiredOption("--max-size <size>", "e.g. 500M, 2G")
  .action(async (o: { maxSize: string }) => {
    const { cachePrune, parseSize } = await cacheCommands();
    cachePrune(parseSize(o.maxSize), say);
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof KilnError) {
    console.error(`kiln: ${e.code}: ${e.message}`);
    process.exit(1);
  }
  const commander = e as { code?: string; exitCode?: number };
  if (typeof commander.code === "string" && commander.code.startsWith("commander.")) {
    process.exit(commander.exitCode === 0 ? 0 : 2); // commander has printed the message (or the help)
  }
  const debug = /(^|,)debug(,|$)/.test(process.env.KILN_LOG ?? "");
  console.error(`kiln: E_INTERNAL: ${(e as Error)?.message ?? String(e)} (a Kiln bug; please report it${debug ? "" : ", with KILN_LOG=debug for the stack"})`);
  if (debug) console.error((e as Error)?.stack);
  process.exit(70);
}
