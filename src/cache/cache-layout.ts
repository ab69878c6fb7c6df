// Where things live in the cache folder, and whether the way to them can be trusted.
import { join } from "node:path";
import { UntrustedCacheError, checkTrustedFolders } from "../util/index.js";

export interface EntryLocation {
  readonly dir: string;
  readonly bundle: string;
}

/** A path component from the caller (prefix, rank): never a way out of the cache folder. */
function component(what: string, value: string): string {
  if (!/^[\w.-]+$/.test(value) || value === "." || value === "..") throw new UntrustedCacheError(value, `${what} is not a plain folder name`);
  return value;
}

export function entryLocation(root: string, key: string, rank: number, worldSize: number, prefix: string): EntryLocation {
  const dir = join(root, "aot", component("key", key), component("rank", `rank${rank}_${worldSize}`), ...prefix.split("/").map((p) => component("prefix", p)));
  return { dir, bundle: join(dir, "model.kiln") };
}

export const lockPath = (root: string, name: string): string => join(root, "locks", `${name}.lock`);

/** Refuses a cache root that another user could write (or that is a link below its real path); missing is fine. */
export function checkFolderTrust(path: string): void {
  checkTrustedFolders(path);
}
