// A Server-Sent Events response as OpenAI streams it: `data: {json}\n\n` per event, written (flushed) at once,
// `data: [DONE]` at the end, and a `: keep-alive` comment whenever nothing was sent for a while (a long prefill).
import type { ServerResponse } from "node:http";

export class SseStream {
  readonly #res: ServerResponse;
  readonly #keepAliveMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, keepAliveMs: number) {
    this.#res = res;
    this.#keepAliveMs = keepAliveMs;
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.flushHeaders();
    this.#arm();
  }

  send(event: unknown): void {
    this.#write(`data: ${JSON.stringify(event)}\n\n`);
  }

  /** Sends `data: [DONE]` and ends the response. */
  done(): void {
    this.#write("data: [DONE]\n\n");
    this.close();
    this.#res.end();
  }

  /** Stops the keep-alive (the response is ending or gone). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #write(text: string): void {
    if (this.#res.destroyed || this.#res.writableEnded) return;
    this.#res.write(text);
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#keepAliveMs > 0) {
      this.#timer = setTimeout(() => this.#write(": keep-alive\n\n"), this.#keepAliveMs);
      this.#timer.unref();
    }
  }
}
