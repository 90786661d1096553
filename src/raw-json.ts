// The raw bytes of a JSON object's top-level members, without decoding them. A failure entry's payload may hold
// integers beyond 2^53 and Ruby-formatted floats (1.0, 1.0e+20) that JSON.parse would change, so requeue and
// enqueue copy those bytes as they are (reference section 2, "JSON fidelity").

/** Index just past the JSON string starting at `i` (a `"`). */
function endOfString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92) j++; // backslash: skip the escaped character
    else if (c === 34) return j + 1;
  }
  throw new SyntaxError("unterminated string");
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past the JSON value starting at `i`. */
function endOfValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return endOfString(s, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j];
      if (d === '"') j = endOfString(s, j) - 1;
      else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError("unterminated " + (c === "{" ? "object" : "array"));
  }
  let j = i;
  while (j < s.length && !/[,}\]\s]/.test(s[j] as string)) j++;
  if (j === i) throw new SyntaxError(`unexpected character at ${i}`);
  return j;
}

export interface RawMember {
  key: string;
  /** The value's bytes as written. */
  raw: string;
  /** Where the value starts and ends in the object's text. */
  start: number;
  end: number;
}

/** The members of a JSON object text, in order; throws SyntaxError for anything else. */
export function rawMembers(text: string): RawMember[] {
  let i = skipSpace(text, 0);
  if (text[i] !== "{") throw new SyntaxError("not a JSON object");
  const out: RawMember[] = [];
  i = skipSpace(text, i + 1);
  if (text[i] === "}") return out;
  for (;;) {
    if (text[i] !== '"') throw new SyntaxError(`expected a key at ${i}`);
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ":") throw new SyntaxError(`expected ':' at ${i}`);
    const start = skipSpace(text, i + 1);
    const end = endOfValue(text, start);
    out.push({ key, raw: text.slice(start, end), start, end });
    i = skipSpace(text, end);
    if (text[i] === "}") return out;
    if (text[i] !== ",") throw new SyntaxError(`expected ',' at ${i}`);
    i = skipSpace(text, i + 1);
  }
}

/** The raw value of one member, or undefined. */
export function rawMember(text: string, key: string): string | undefined {
  return rawMembers(text).find((m) => m.key === key)?.raw;
}

/** JSON text without whitespace outside strings (Ruby's JSON.generate is compact); numbers keep their digits. */
export function compactJson(text: string): string {
  JSON.parse(text); // refuse what is not JSON, with the parser's own message
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end - 1;
    } else if (!isSpace(c.charCodeAt(0))) out += c;
  }
  return out;
}

/** `text` with member `key` set to the raw `value`: replaced in place if present (Ruby's Hash keeps the position), else appended. */
export function setRawMember(text: string, key: string, value: string): string {
  const members = rawMembers(text);
  const found = members.find((m) => m.key === key);
  if (found) return text.slice(0, found.start) + value + text.slice(found.end);
  const close = text.lastIndexOf("}");
  const sep = members.length ? "," : "";
  return `${text.slice(0, close)}${sep}${JSON.stringify(key)}:${value}${text.slice(close)}`;
}
