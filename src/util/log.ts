// The logger: one line per event on stderr, prefixed "kiln:"; topics enabled by KILN_LOG.
import { readEnv } from "./env.js";

export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(line + "\n");

/** Redirects log lines (tests capture them); returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

/** Always printed: warnings, notices, cache events. */
export function logLine(message: string): void {
  sink(`kiln: ${message}`);
}

/** Printed only when `topic` is listed in KILN_LOG (e.g. KILN_LOG=compile). */
export function logTopic(topic: string, message: string): void {
  if (readEnv().log.has(topic)) sink(`kiln[${topic}]: ${message}`);
}
