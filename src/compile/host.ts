// What of this host can change compiled code: os, arch, Node's ABI, and a fingerprint of Kiln's own compiler code. Nothing of place (paths, HOME, hostname).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeSourcesHash } from "../backend/index.js";
import { sha256Hex } from "../util/index.js";

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
    // the native runtime's C files are not in dist/ (runtimeSourcesHash reads them where they ship)
    compilerCode = sha256Hex(files.map((f) => sha256Hex(readFileSync(f))).join("") + runtimeSourcesHash());
  }
  return compilerCode;
}
