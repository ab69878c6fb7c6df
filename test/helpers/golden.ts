// assertGolden: compares text with test/golden/<name>; KILN_UPDATE_GOLDEN=1 rewrites the file.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { projectRoot } from "./root.js";

export function assertGolden(text: string, name: string): void {
  const file = join(projectRoot(), "test", "golden", name);
  if (process.env.KILN_UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) assert.fail(`golden file ${name} is missing`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, "utf8"), `golden ${name} differs (KILN_UPDATE_GOLDEN=1 to accept)`);
}
