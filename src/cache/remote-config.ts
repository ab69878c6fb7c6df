// KILN_CACHE_REMOTE: the fleet cache's stores, as configured.
import { fileURLToPath } from "node:url";
import { ArgumentError } from "../util/index.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, RedisRemote } from "./redis-remote.js";
import { FolderRemote, type RemoteStore } from "./remote-store.js";

/**
 * KILN_CACHE_REMOTE: comma-separated URLs, tried in order — `file:///dir` or `redis://host:port[/db]`, each with
 * options `?readonly`, `prefix=NAME`, `timeout_ms=N` (Redis: per request, default 5000).
 */
export function parseRemotes(text: string | undefined): readonly RemoteStore[] {
  const key = text ?? "";
  let stores = configured.get(key);
  if (!stores) configured.set(key, (stores = parse(key)));
  return stores;
}

/** One set of stores per setting, for the process (a Redis store keeps its worker and connection between pieces). */
const configured = new Map<string, readonly RemoteStore[]>();

function parse(text: string): RemoteStore[] {
  const stores: RemoteStore[] = [];
  for (const raw of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ArgumentError("env", `KILN_CACHE_REMOTE: '${raw}' is not a URL (file:///shared/dir or redis://host:port)`);
    }
    const params = url.searchParams;
    for (const p of params.keys()) {
      if (!["readonly", "prefix", "timeout_ms"].includes(p)) throw new ArgumentError("env", `KILN_CACHE_REMOTE: '${raw}' has an unknown option '${p}' (readonly, prefix, timeout_ms)`);
    }
    const prefix = params.get("prefix") ?? undefined;
    if (prefix !== undefined && !/^[\w.-]+$/.test(prefix)) throw new ArgumentError("env", `KILN_CACHE_REMOTE: prefix '${prefix}' must be a plain name`);
    const readonly = params.has("readonly") && params.get("readonly") !== "0";
    if (url.protocol === "file:") {
      if (url.host !== "" && url.host !== "localhost") throw new ArgumentError("env", `KILN_CACHE_REMOTE: '${raw}' names a host; a shared folder is file:///path`);
      stores.push(new FolderRemote(raw, fileURLToPath(new URL(`file://${url.pathname}`)), readonly, prefix));
    } else if (url.protocol === "redis:") {
      const timeout = params.get("timeout_ms");
      const timeoutMs = timeout === null ? DEFAULT_REQUEST_TIMEOUT_MS : Number(timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) throw new ArgumentError("env", `KILN_CACHE_REMOTE: timeout_ms '${timeout}' must be an integer from 1 to 600000`);
      const server = new URL(raw);
      server.search = "";
      stores.push(new RedisRemote(raw, server.href, readonly, prefix, timeoutMs));
    } else {
      throw new ArgumentError("env", `KILN_CACHE_REMOTE: '${raw}' is neither file:// nor redis://`);
    }
  }
  return stores;
}

/**
 * Starts the configured stores' connections in the background (a Redis worker, its client and its connection take
 * ≈ 150 ms), for a process about to load a model: a local miss then finds them ready. Never throws.
 */
export function prewarmRemotes(text: string | undefined): void {
  if (!text) return;
  try {
    for (const store of parseRemotes(text)) store.prewarm?.();
  } catch {
    // a bad setting is reported where the cache reads it
  }
}
