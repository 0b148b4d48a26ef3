// Recovering the id of a message too large to decode, so it can be answered MessageTooLarge.
//
// An oversized line is never held whole: the reader keeps its first 64 KiB and last 4 KiB. The
// id is found either as a top-level key near the start (the usual {"jsonrpc":"2.0","id":7,...
// order) or as the very last key. A nested "id" (say in an api body) must never be mistaken for
// it, so the start is scanned with a small depth-tracking tokenizer instead of a plain regex.

const COLON_VALUE = /^\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")/;
const LAST_ID = /,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*}\s*$/;
const WANTED = new Set(['id', 'method']);

function stringEnd(text, start) {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let k = quote - 1; k > start && text[k] === '\\'; k -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

/** Scalar values of the top-level keys id and method within a JSON prefix. */
export function topLevelFields(head) {
  const found = {};
  let depth = 0;
  let expectKey = false;
  let i = 0;
  while (i < head.length) {
    const c = head[i];
    if (c === '"') {
      const end = stringEnd(head, i);
      if (end < 0) break;
      if (depth === 1 && expectKey) {
        const key = head.slice(i + 1, end - 1);
        const match = COLON_VALUE.exec(head.slice(end, end + 200));
        if (WANTED.has(key) && match) found[key] = JSON.parse(match[1]);
      }
      expectKey = false;
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      depth += 1;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth -= 1;
      if (depth <= 0) break;
    } else if (c === ',') {
      expectKey = depth === 1;
    }
    i += 1;
  }
  return found;
}

/** {id?, method?} of an oversized line, from its kept head and tail bytes. */
export function findIds({ head, tail }) {
  const found = topLevelFields(head.toString('utf8'));
  if (!('id' in found)) {
    const match = LAST_ID.exec(tail.toString('utf8'));
    if (match) found.id = JSON.parse(match[1]);
  }
  return found;
}
