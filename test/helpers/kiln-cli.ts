// Runs the real `kiln` command in a child process, optionally as another user (root ignores permission
// bits, so permission behaviour is tested as a non-root uid) and under a given umask.
import { spawnSync } from "node:child_process";
import { chownSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const KILN_CLI = fileURLToPath(new URL(`../../src/cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

/** The uid/gid of `nobody`, used to run children as a non-root user. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

export const runningAsRoot = (): boolean => process.getuid?.() === 0;

export interface KilnRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KilnRunOptions {
  readonly env?: Record<string, string | undefined>;
  /** Run as this user (only possible as root). */
  readonly user?: { readonly uid: number; readonly gid: number };
  readonly umask?: number;
  readonly timeoutMs?: number;
}

/** `kiln <args>` with the test's environment minus the KILN_* switches, plus `env`. */
export function runKiln(args: readonly string[], options: KilnRunOptions = {}): KilnRun {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("KILN_")) env[k] = v;
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  const node = [process.execPath, ...process.execArgv, KILN_CLI, ...args];
  const command = options.umask === undefined ? node : ["/bin/sh", "-c", `umask ${options.umask.toString(8)}; exec "$@"`, "sh", ...node];
  const r = spawnSync(command[0]!, command.slice(1), {
    env,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 240_000,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Every path under `dir` with its size, mode and mtime: equal snapshots mean nothing was written. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${p} ${st.size} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** chown -R. */
export function chownTree(dir: string, user: { uid: number; gid: number }): void {
  chownSync(dir, user.uid, user.gid);
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) chownTree(p, user);
    else chownSync(p, user.uid, user.gid);
  }
}
