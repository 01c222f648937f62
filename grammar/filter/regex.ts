// How a string predicate matches (kernel: filter_build_regex,
// filter_parse_regex, regex_match_*, lib/glob.c glob_match). Strings are
// byte strings; `len` is what the kernel passes as the string's length
// (0 = NUL-terminated, else the bytes to look at, usually with the NUL).

export type MatchKind = 'full' | 'front' | 'middle' | 'end' | 'glob';

export interface StringMatch {
  readonly kind: MatchKind;
  /** The pattern as compared: without the leading '!' and the fast path's '*'. */
  readonly pattern: string;
  /** A leading '!' in a ~ pattern negates the match. */
  readonly negated: boolean;
}

const isDigitChar = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** kernel: filter_parse_regex, for the ~ operator. A leading digit means MATCH_INDEX, which matches full. */
export function classifyGlob(raw: string): StringMatch {
  const negated = raw.startsWith('!');
  const buff = negated ? raw.slice(1) : raw;
  if (isDigitChar(buff[0])) return { kind: 'full', pattern: buff, negated };
  let kind: MatchKind = 'full';
  for (let i = 0; i < buff.length; i++) {
    const c = buff[i]!;
    if (c === '*') {
      if (i === 0) kind = 'end';
      else if (i === buff.length - 1) {
        kind = kind === 'end' ? 'middle' : 'front';
        return { kind, pattern: buff.slice(kind === 'middle' ? 1 : 0, i), negated };
      } else return { kind: 'glob', pattern: buff, negated };
    } else if (c === '[' || c === '?' || c === '\\') return { kind: 'glob', pattern: buff, negated };
  }
  return { kind, pattern: kind === 'end' ? buff.slice(1) : buff, negated };
}

/** Byte i of s, 0 past the end (the NUL a C string ends with). */
const b = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);

function strncmp(a: string, p: string, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = b(a, i) - b(p, i);
    if (d !== 0 || b(a, i) === 0) return d;
  }
  return 0;
}

const cstr = (s: string): string => { const z = s.indexOf('\0'); return z < 0 ? s : s.slice(0, z); };

/** kernel: strnstr (memcmp over len bytes of s, NULs included). */
function strnstr(s: string, p: string, len: number): boolean {
  if (p.length === 0) return true;
  for (let i = 0; len >= p.length; len--, i++) {
    let same = true;
    for (let k = 0; k < p.length && same; k++) same = b(s, i + k) === p.charCodeAt(k);
    if (same) return true;
  }
  return false;
}

/** kernel: glob_match (lib/glob.c): * ? [a-z] [!x] and \ escapes. */
export function globMatch(pat: string, str: string): boolean {
  let p = 0, s = 0, backPat = -1, backStr = 0;
  for (;;) {
    const c = b(str, s++);
    let d = b(pat, p++);
    let literal = true;
    if (d === 0x3f) { if (c === 0) return false; continue; }
    if (d === 0x2a) {
      if (b(pat, p) === 0) return true;
      backPat = p; backStr = --s;
      continue;
    }
    if (d === 0x5b) {
      const r = matchClass(pat, p, c);
      if (r !== undefined) {
        if (r.matched) { p = r.next; continue; }
        literal = false;
      }
    } else if (d === 0x5c) d = b(pat, p++);
    if (literal && c === d) { if (d === 0) return true; continue; }
    if (c === 0 || backPat < 0) return false;
    p = backPat; s = ++backStr;
  }
}

/** A [class] at pat[p] (after '['): matched or not and where it ends; undefined if malformed (then '[' is literal). */
function matchClass(pat: string, p: number, c: number): { matched: boolean; next: number } | undefined {
  const inverted = b(pat, p) === 0x21;
  let cls = p + (inverted ? 1 : 0);
  let a = b(pat, cls++);
  let match = false;
  do {
    let hi = a;
    if (a === 0) return undefined;
    if (b(pat, cls) === 0x2d && b(pat, cls + 1) !== 0x5d) {
      hi = b(pat, cls + 1);
      if (hi === 0) return undefined;
      cls += 2;
    }
    match ||= a <= c && c <= hi;
    a = b(pat, cls++);
  } while (a !== 0x5d);
  return { matched: match !== inverted, next: cls };
}

/** kernel: regex_match_{full,front,middle,end,glob}(str, r, len). */
export function regexMatch(m: StringMatch, str: string, len: number): boolean {
  const p = m.pattern;
  switch (m.kind) {
    case 'full': return len === 0 ? cstr(str) === p : strncmp(str, p, len) === 0;
    case 'front': return len !== 0 && len < p.length ? false : strncmp(str, p, p.length) === 0;
    case 'middle': return len === 0 ? cstr(str).includes(p) : strnstr(str, p, len);
    case 'end': {
      const n = len - 1;
      return n >= p.length && str.slice(n - p.length, n) === p;
    }
    // glob_match_len (the 2026 fix against reading past a field, in 6.18 here): a len of 0 is ""
    case 'glob': return globMatch(p, len === 0 ? '' : str);
  }
}
