'use strict';

// The Kubernetes downward-API annotations file: one `key="value"` per line,
// keys sorted, each value written with Go's strconv.Quote (kubelet
// pkg/fieldpath formatMap). Values may therefore hold \" \\ \n \t \xNN
// \uNNNN \UNNNNNNNN escapes; we undo them exactly instead of guessing.

const WORKERS_ANNOTATION = 'webscale.dev/workers';

const SIMPLE_ESCAPES = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** Undo strconv.Quote. `quoted` includes the surrounding double quotes. */
function unquoteGo(quoted) {
  if (quoted.length < 2 || quoted[0] !== '"' || quoted[quoted.length - 1] !== '"') {
    throw new SyntaxError('value is not a double-quoted string');
  }
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i += 1) {
    const ch = body[i];
    if (ch === '"') throw new SyntaxError('unescaped quote inside value');
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const esc = body[i + 1];
    if (esc in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[esc];
      i += 1;
    } else if (esc === 'x' || esc === 'u' || esc === 'U') {
      const len = { x: 2, u: 4, U: 8 }[esc];
      const hex = body.slice(i + 2, i + 2 + len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) throw new SyntaxError(`bad \\${esc} escape`);
      const code = parseInt(hex, 16);
      // \xNN is a raw byte in Go; annotation values are UTF-8 text, so a
      // lone byte >= 0x80 cannot occur from strconv.Quote of valid text.
      out += esc === 'x' ? String.fromCharCode(code) : String.fromCodePoint(code);
      i += 1 + len;
    } else if (esc >= '0' && esc <= '7') {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct)) throw new SyntaxError('bad octal escape');
      out += String.fromCharCode(parseInt(oct, 8));
      i += 3;
    } else {
      throw new SyntaxError(`unknown escape \\${esc ?? ''}`);
    }
  }
  return out;
}

/**
 * parseAnnotations(text) -> { values: Map<key, value>, errors: string[] }
 * Malformed lines are reported in `errors` and skipped, never fatal.
 */
function parseAnnotations(text) {
  const values = new Map();
  const errors = [];
  const lines = String(text).split('\n');
  for (let n = 0; n < lines.length; n += 1) {
    const line = lines[n].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      errors.push(`line ${n + 1}: expected key="value"`);
      continue;
    }
    const key = line.slice(0, eq);
    try {
      values.set(key, unquoteGo(line.slice(eq + 1)));
    } catch (err) {
      errors.push(`line ${n + 1} (${key}): ${err.message}`);
    }
  }
  return { values, errors };
}

module.exports = { WORKERS_ANNOTATION, unquoteGo, parseAnnotations };
