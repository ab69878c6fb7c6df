// Private temp folders of this process (build folders, throwaway stores), removed when it exits.
import { rmSync } from "node:fs";

const dirs: string[] = [];

export function removeAtExit(dir: string): void {
  if (dirs.length === 0) {
    process.once("exit", () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
  }
  dirs.push(dir);
}

/** Keeps a folder registered with removeAtExit (it holds something an error message names). */
export function keepAtExit(dir: string): void {
  const i = dirs.indexOf(dir);
  if (i >= 0) dirs.splice(i, 1);
}
