// The fleet cache as the AOT cache path uses it for one compiled piece: read through the stores before compiling,
// take turns so one replica compiles what many miss at once, publish what was compiled.
import type { KeyObject } from "node:crypto";
import { hostname } from "node:os";
import { type RemoteStore, parseRemotes, publish, readThrough, remoteEntryName, signingKeyOf, trustedKeysOf, withStore } from "../cache/index.js";
import { KilnError, bump, logLine } from "../util/index.js";
import type { CompiledFunction } from "./aot.js";
import { KILN_VERSION } from "./version.js";

/** How long a compile may hold a piece's lease (a crashed holder's lease frees itself after this). */
const LEASE_TTL_MS = 10 * 60_000;
/** How long a replica waits for another's compile before compiling itself (without publishing): a crashed holder
 * must not hold a start for the lease's whole TTL. */
const LEASE_WAIT_MS = 2 * 60_000;
/** How often a replica waiting for another's compile looks for its entry. */
const POLL_MS = 100;

type Load = (bytes: Uint8Array, path: string) => CompiledFunction;
type FleetEnv = { readonly cacheRemote?: string; readonly cacheSignKey?: string; readonly cacheTrustedKeys?: string };

export interface Fetched {
  readonly fn: CompiledFunction;
  readonly bytes: Uint8Array;
}

export class Fleet {
  readonly #stores: readonly RemoteStore[];
  readonly #name: string;
  readonly #signingKey: KeyObject | undefined;
  readonly #trustedKeys: KeyObject[] | undefined;
  readonly #owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  #leased: RemoteStore | undefined;

  /** The fleet for one piece, or undefined without KILN_CACHE_REMOTE. Key files are read now: a bad one fails up front. */
  static of(env: FleetEnv, key: string, rank: number, worldSize: number, prefix: string): Fleet | undefined {
    return Fleet.named(env, remoteEntryName(key, rank, worldSize, prefix), prefix, key);
  }

  /** The fleet for an entry named outright (a helper object such as the weights mapper); `label` names it in log lines. */
  static named(env: FleetEnv, name: string, label: string, key = name): Fleet | undefined {
    const stores = parseRemotes(env.cacheRemote);
    if (!stores.length) return undefined;
    return new Fleet(stores, name, label, key, signingKeyOf(env.cacheSignKey), trustedKeysOf(env.cacheTrustedKeys));
  }

  private constructor(stores: readonly RemoteStore[], name: string, readonly prefix: string, readonly key: string, signingKey: KeyObject | undefined, trustedKeys: KeyObject[] | undefined) {
    this.#stores = stores;
    this.#name = name;
    this.#signingKey = signingKey;
    this.#trustedKeys = trustedKeys;
  }

  /** A process that requires signed entries publishes only what it can sign (an unsigned entry would replace a trusted one). */
  get #publishes(): boolean {
    return !this.#trustedKeys || this.#signingKey !== undefined;
  }

  /** The first store's bytes that pass the entry's signature (when required) and its digest; nothing else is checked. */
  fetchBytes(): Uint8Array | undefined {
    return readThrough(this.#stores, this.#name, this.#trustedKeys)?.bytes;
  }

  /** The first store's bundle that passes its signature (when required), its digest and then `load`; one log line either way. */
  fetch(load: Load): Fetched | undefined {
    const t0 = performance.now();
    const got = readThrough(this.#stores, this.#name, this.#trustedKeys);
    if (!got) return undefined;
    try {
      const fn = load(got.bytes, `${got.store.url} ${this.#name}`);
      bump("remoteLoads");
      logLine(`loaded ${this.prefix} from the fleet cache ${got.store.url} in ${(performance.now() - t0).toFixed(0)} ms`);
      return { fn, bytes: got.bytes };
    } catch (e) {
      if (!(e instanceof KilnError)) throw e;
      bump("remoteRejected");
      logLine(`fleet cache ${got.store.url}: the bundle for ${this.#name} is unusable here (${e.message.split("\n")[0]}); compiling`);
      return undefined;
    }
  }

  /**
   * Before compiling: take the piece's lease on the first writable store, or, while another replica holds it, wait
   * for what it publishes (taking the lease if it goes away unpublished). Returns the bundle when one arrived; else
   * undefined, and the caller compiles (and publishes, if it holds the lease). Waiting ends after LEASE_WAIT_MS.
   */
  turn(load: Load): Fetched | undefined {
    const store = this.#publishes ? this.#stores.find((s) => !s.readonly) : undefined;
    if (!store) return undefined;
    const deadline = Date.now() + LEASE_WAIT_MS;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    let told = false;
    while (Date.now() < deadline) {
      const leased = withStore(store, "taking a lease", () => store.tryLease(this.#name, this.#owner, LEASE_TTL_MS));
      if (leased === undefined) return undefined; // the store cannot lease: compile as if no one else were
      if (leased) {
        this.#leased = store;
        return this.fetch(load); // published between our first look and the lease: nothing to compile
      }
      if (!told) {
        told = true;
        logLine(`another replica is compiling ${this.prefix} for the fleet cache ${store.url}: waiting for it`);
      }
      Atomics.wait(sleeper, 0, 0, POLL_MS);
      const got = this.fetch(load);
      if (got) return got;
    }
    logLine(`gave up waiting for ${this.prefix} from the fleet cache after ${LEASE_WAIT_MS / 1000} s: compiling here`);
    return undefined;
  }

  /** After a compile: publish (blob, then entry) to the writable stores, and give the lease back. Never throws. */
  publish(bytes: Uint8Array, compileMs: number): void {
    try {
      if (!this.#publishes) {
        logLine(`not publishing ${this.prefix} to the fleet cache: KILN_CACHE_TRUSTED_KEYS is set and KILN_CACHE_SIGN_KEY is not`);
        return;
      }
      const n = publish(this.#stores, this.#name, bytes, {
        kiln_version: KILN_VERSION, key: this.key, compile_ms: Math.round(compileMs), producer: this.#owner, created_at: new Date().toISOString(),
      }, this.#signingKey);
      if (n > 0) logLine(`published ${this.prefix} to the fleet cache (${n} store${n > 1 ? "s" : ""})`);
    } finally {
      this.release();
    }
  }

  /** Gives the lease back (after a publish, or a compile that failed). */
  release(): void {
    const store = this.#leased;
    this.#leased = undefined;
    if (store) withStore(store, "giving a lease back", () => store.releaseLease(this.#name, this.#owner));
  }
}
