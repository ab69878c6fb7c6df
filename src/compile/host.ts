// What of this host can change compiled code: os, arch, Node's ABI, the CPU features native
// code may use, and a fingerprint of Kiln's own compiler code. Nothing of place (paths, HOME, hostname).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnv, sha256Hex } from "../util/index.js";

/** Features `-march=native` may use on x86-64 that a loading host must also have. */
const RELEVANT_FEATURES = ["sse4_2", "avx", "f16c", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx512ifma", "avx512vbmi"];

let detected: string[] | undefined;

/** CPU features of this host relevant to native code (KILN_CPU_FEATURES overrides, for tests). */
export function cpuFeatures(): string[] {
  const forced = readEnv().cpuFeatures;
  if (forced) return [...forced].sort();
  if (!detected) {
    let flags = new Set<string>();
    try {
      const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
      flags = new Set((line ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
    } catch {
      // not Linux: no features known, so bundles needing any are refused
    }
    detected = RELEVANT_FEATURES.filter((f) => flags.has(f)).sort();
  }
  return detected;
}

export interface HostFactors {
  readonly os: string;
  readonly arch: string;
  readonly node_abi: string;
}

export function hostFactors(): HostFactors {
  return { os: platform(), arch: arch(), node_abi: process.versions.modules };
}

let compilerCode: string | undefined;

/**
 * A hash of Kiln's own compiler code (passes, codegen, backend as built), so a changed compiler
 * under an unchanged version still misses (PyTorch hashes Inductor's sources for the same reason).
 */
export function compilerFingerprint(): string {
  if (compilerCode === undefined) {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir).sort()) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(js|ts)$/.test(f) && !f.endsWith(".d.ts")) files.push(p);
      }
    };
    for (const layer of ["passes", "codegen", "backend"]) walk(join(root, layer));
    compilerCode = sha256Hex(files.map((f) => sha256Hex(readFileSync(f))).join(""));
  }
  return compilerCode;
}
