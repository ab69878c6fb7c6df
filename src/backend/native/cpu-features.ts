// The host CPU as the native backend sees it: feature flags (from /proc/cpuinfo) and physical core count.
//
// Tests may override the detected features, e.g. to build the AVX2 or portable kernels on an AVX-512 machine.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

let override: ReadonlySet<string> | undefined;
let detected: ReadonlySet<string> | undefined;
let cores: number | undefined;

function readCpuinfo(): string {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

/** Feature names as /proc/cpuinfo spells them (x86 `flags`, arm `Features`), lower case. */
export function parseCpuFeatures(cpuinfo: string): ReadonlySet<string> {
  const line = cpuinfo.split("\n").find((l) => /^(flags|features)\s*:/i.test(l));
  return new Set(line ? line.slice(line.indexOf(":") + 1).trim().toLowerCase().split(/\s+/).filter(Boolean) : []);
}

/** The host's CPU features, or the override set by setCpuFeaturesOverride. */
export function detectCpuFeatures(): ReadonlySet<string> {
  return override ?? realCpuFeatures();
}

/** What /proc/cpuinfo says, whatever the override: the ceiling of every simulated host. */
export function realCpuFeatures(): ReadonlySet<string> {
  detected ??= parseCpuFeatures(readCpuinfo());
  return detected;
}

/** Replaces the detected features (undefined restores detection); for tests and cross-builds. */
export function setCpuFeaturesOverride(features: Iterable<string> | undefined): void {
  override = features === undefined ? undefined : new Set([...features].map((f) => f.toLowerCase()));
}

/** Physical cores (distinct physical id / core id pairs), falling back to the logical CPU count. */
export function physicalCoreCount(): number {
  if (cores !== undefined) return cores;
  const ids = new Set<string>();
  let phys = "0";
  for (const line of readCpuinfo().split("\n")) {
    const m = /^(physical id|core id)\s*:\s*(\d+)/.exec(line);
    if (m?.[1] === "physical id") phys = m[2]!;
    else if (m?.[1] === "core id") ids.add(`${phys}:${m[2]}`);
  }
  cores = ids.size > 0 ? Math.min(ids.size, availableParallelism()) : availableParallelism();
  return cores;
}
