#!/usr/bin/env node
// The `kiln` command.
import { Command } from "commander";
import { KilnError } from "../util/index.js";
import { runDemo } from "./demo.js";

const program = new Command("kiln").description("Kiln: an ahead-of-time ML compiler for TypeScript").version("0.1.0");

program
  .command("demo")
  .description("compile and run a small decoder model Kiln makes itself, against eager execution")
  .action(() => runDemo((line) => console.log(line)));

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof KilnError) {
    console.error(`kiln: ${e.code}: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
