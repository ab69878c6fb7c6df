// The engine thread: builds the model (reporting each load phase), then runs the scheduler one step at a time
// while it has work, yielding to this thread's event loop between steps so add and abort messages get in.
// The HTTP side never waits on a forward pass.
import { parentPort, workerData } from "node:worker_threads";
import { KilnError, setLogSink } from "../util/index.js";
import type { EngineModule, FromWorker, LoadPhase, StepScheduler, ToWorker, WorkerData } from "./engine-protocol.js";

const port = parentPort!;
const data = workerData as WorkerData;
const post = (m: FromWorker) => port.postMessage(m);

/** One line, never a stack: a KilnError's code, else E_INTERNAL. */
function describe(e: unknown): { code: string; message: string } {
  if (e instanceof KilnError) return { code: e.code, message: e.message.split("\n")[0]! };
  return { code: "E_INTERNAL", message: `${(e as Error)?.message ?? String(e)}`.split("\n")[0]! };
}

// Log lines of loading (cache hits and misses) go to the main thread, which prints them; a cache miss means the
// compile starts now, which /health reports.
let phase: LoadPhase = "loading_weights";
const phaseSeconds: Partial<Record<LoadPhase, number>> = {};
let phaseStart = performance.now();
function closePhase(): void {
  phaseSeconds[phase] = (phaseSeconds[phase] ?? 0) + (performance.now() - phaseStart) / 1000;
  phaseStart = performance.now();
}
function enter(next: LoadPhase): void {
  if (next === phase) return;
  closePhase();
  phase = next;
  post({ type: "phase", phase: next });
}
setLogSink((line) => {
  if (phase === "loading_bundle" && /cache miss for|compiling in memory/.test(line)) enter("compiling");
  post({ type: "log", line });
});

let scheduler: StepScheduler;
try {
  const mod = (await import(data.engineModule)) as EngineModule;
  const opened = mod.openEngine(data.spec, enter);
  scheduler = opened.scheduler;
  closePhase();
  post({ type: "ready", info: { ...opened.info, phaseSeconds }, stats: scheduler.stats() });
} catch (e) {
  post({ type: "failed", ...describe(e) });
  process.exit(1);
}

let pending = false;
let crashed = false;

function pump(): void {
  pending = false;
  if (crashed || !scheduler.hasWork) return;
  let outputs;
  try {
    outputs = scheduler.step();
  } catch (e) {
    crashed = true;
    post({ type: "crashed", ...describe(e) });
    return;
  }
  post({ type: "outputs", outputs, stats: scheduler.stats() });
  schedule();
}

function schedule(): void {
  if (pending || !scheduler.hasWork) return;
  pending = true;
  setImmediate(pump); // after this turn's messages: adds and aborts land between steps
}

port.on("message", (m: ToWorker) => {
  if (crashed) return;
  switch (m.type) {
    case "add":
      for (const req of m.requests) {
        try {
          scheduler.add(req);
        } catch (e) {
          post({ type: "rejected", id: req.id, ...describe(e) });
        }
      }
      break;
    case "abort": {
      const outputs = m.ids.map((id) => scheduler.abort(id)).filter((o) => o !== undefined);
      post({ type: "outputs", outputs, stats: scheduler.stats() });
      break;
    }
    default:
      m satisfies never;
  }
  schedule();
});
