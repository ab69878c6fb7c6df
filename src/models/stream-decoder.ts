// Incremental detokenization for streaming: text deltas as token ids arrive, never splitting a UTF-8 character.

/** Decodes a run of token ids to text; byte sequences cut short show as U+FFFD (as a byte-level BPE decoder does). */
export type DecodeFn = (ids: readonly number[]) => string;

const REPLACEMENT = "\uFFFD";

/**
 * Turns a growing sequence of token ids into text deltas, the way vLLM's incremental detokenizer does.
 *
 * Each step decodes a short window: the tokens since the last fully emitted point (`read`), after one earlier chunk
 * of context (`prefix`), so decoders that treat the start of a text specially (SentencePiece's leading space) see it
 * mid-text. Trailing U+FFFD characters are held back: they may be a character whose bytes are split over tokens
 * and are completed by the next token. UTF-8 decoding is self-synchronising, so what precedes them never changes.
 *
 * Invariant: the deltas of `push` followed by `flush` concatenate to `decode(allIds)`.
 */
export class StreamDecoder {
  readonly #decode: DecodeFn;
  readonly #ids: number[] = [];
  /** Window start: `ids[prefix, read)` decodes to text already emitted, and serves as context. */
  #prefix = 0;
  /** Everything before `read` is emitted. */
  #read = 0;
  /** Characters of the window's text beyond `decode(ids[prefix, read))` already emitted. */
  #emittedBeyond = 0;

  constructor(decode: DecodeFn) {
    this.#decode = decode;
  }

  /** Every id pushed so far. */
  get ids(): readonly number[] {
    return this.#ids;
  }

  /** Adds one token (or several) and returns the text that became final ("" while a character is incomplete). */
  push(...ids: number[]): string {
    this.#ids.push(...ids);
    const prefixText = this.#decode(this.#ids.slice(this.#prefix, this.#read));
    const text = this.#decode(this.#ids.slice(this.#prefix));
    let end = text.length;
    while (end > prefixText.length && text[end - 1] === REPLACEMENT) end--;
    const start = prefixText.length + this.#emittedBeyond;
    const delta = end > start ? text.slice(start, end) : "";
    if (end === text.length) {
      this.#prefix = this.#read;
      this.#read = this.#ids.length;
      this.#emittedBeyond = 0;
    } else {
      this.#emittedBeyond = Math.max(this.#emittedBeyond, end - prefixText.length);
    }
    return delta;
  }

  /** Ends the stream: returns whatever was held back (replacement characters of a sequence cut short). */
  flush(): string {
    const prefixText = this.#decode(this.#ids.slice(this.#prefix, this.#read));
    const text = this.#decode(this.#ids.slice(this.#prefix));
    const rest = text.slice(prefixText.length + this.#emittedBeyond);
    this.#prefix = this.#read = this.#ids.length;
    this.#emittedBeyond = 0;
    return rest;
  }
}
