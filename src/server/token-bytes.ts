// The raw bytes of a token, for logprobs' `bytes`: a byte-level BPE token (GPT-2's alphabet, used by Qwen3 and
// Llama 3) maps back to its bytes exactly — also when it holds part of a UTF-8 character, which decoding alone
// would turn into U+FFFD.

/** GPT-2's bytes_to_unicode, inverted: the printable character each byte was written as → the byte. */
const BYTE_OF = (() => {
  const direct = [...range(0x21, 0x7e), ...range(0xa1, 0xac), ...range(0xae, 0xff)];
  const map = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const code = direct.includes(b) ? b : 256 + shifted++;
    map.set(String.fromCodePoint(code), b);
  }
  return map;
})();

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The token's bytes: from its byte-level spelling when it has one, else the UTF-8 of its decoded text. */
export function tokenBytes(spelling: string | undefined, text: string): number[] {
  if (spelling !== undefined && spelling.length > 0) {
    const bytes: number[] = [];
    for (const ch of spelling) {
      const b = BYTE_OF.get(ch);
      if (b === undefined) return [...Buffer.from(text, "utf8")];
      bytes.push(b);
    }
    return bytes;
  }
  return [...Buffer.from(text, "utf8")];
}
