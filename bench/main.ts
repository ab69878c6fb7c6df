// `npm run bench -- <name> [args]`: runs bench/<name>.ts's exported run(args).
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".js") && !["main.js", "report.js"].includes(f) && !f.endsWith("-child.js"))
  .map((f) => f.slice(0, -3));

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join("|")}> [args]`);
  process.exit(name ? 2 : 0);
}
const file = join(here, `${name}.js`);
if (!existsSync(file)) throw new Error(`no benchmark ${file}`);
const mod = (await import(pathToFileURL(file).href)) as { run(args: string[]): Promise<void> };
await mod.run(args);
