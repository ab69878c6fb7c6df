// A process that plays one part in a lock test, as a list of steps (a holder, a waiter, ...).
// Every wait is synchronous, as in a real compile. (Does nothing when node --test imports it without arguments.)
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FileLock } from "../../src/cache/index.js";

const [path, staleMs, orderFile, name, ...steps] = process.argv.slice(2);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(sleeper, 0, 0, ms);
const log = (word: string) => appendFileSync(orderFile, `${word}\n`);
const logged = (word: string) => existsSync(orderFile) && readFileSync(orderFile, "utf8").split("\n").includes(word);

let lock: FileLock | undefined;
for (const step of path ? steps : []) {
  const [verb, arg = ""] = step.split(":");
  if (verb === "acquire") {
    lock = FileLock.tryAcquire(path, { staleMs: Number(staleMs) });
    if (!lock) {
      log(`${name}-waits`);
      lock = FileLock.acquireSync(path, { staleMs: Number(staleMs), pollMs: 10 });
    }
  } else if (verb === "say") process.stdout.write(`${arg}\n`);
  else if (verb === "log") log(arg);
  else if (verb === "until") while (!logged(arg)) sleep(10);
  else if (verb === "block") sleep(Number(arg));
  else if (verb === "check") log(`${name}-${existsSync(join(path, lock!.token)) ? "holds" : "lost"}`);
  else if (verb === "release") lock!.release();
  else throw new Error(`unknown step ${step}`);
}
// The script ends here, holding the lock when no release step was given: an unref'd heartbeat must not keep it alive.
