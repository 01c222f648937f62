// The kernel's number parsers, bit for bit: which strings they accept decides
// which probe lines are valid (kernel: lib/kstrtox.c, lib/vsprintf.c).
// Results are bigint (64-bit two's complement for signed values), or
// undefined where the kernel returns -EINVAL/-ERANGE.

const U64_MAX = (1n << 64n) - 1n;
const S64_MAX = (1n << 63n) - 1n;
const U32_MAX = (1n << 32n) - 1n;

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20; // _tolower for letters
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return 99;
}

const isXDigit = (c: string | undefined): boolean => c !== undefined && digitValue(c) < 16;

/** kernel: _parse_integer_fixup_radix; returns [base, index after any 0x]. */
function fixupRadix(s: string, pos: number, base: number): [number, number] {
  if (base === 0) {
    if (s[pos] === '0') base = (s[pos + 1] ?? '').toLowerCase() === 'x' && isXDigit(s[pos + 2]) ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && s[pos] === '0' && (s[pos + 1] ?? '').toLowerCase() === 'x') pos += 2;
  return [base, pos];
}

/** kernel: _parse_integer; digits consumed, value mod 2^64, overflow flag. */
function parseDigits(s: string, pos: number, base: number): { end: number; value: bigint; overflow: boolean } {
  // Plain numbers while exact (the common case), bigint only for long inputs.
  let small = 0;
  let i = pos;
  for (; i < s.length; i++) {
    const v = digitValue(s[i]!);
    if (v >= base) return { end: i, value: BigInt(small), overflow: false };
    const next = small * base + v;
    if (next > Number.MAX_SAFE_INTEGER) break;
    small = next;
  }
  let value = BigInt(small);
  let overflow = false;
  const b = BigInt(base);
  for (; i < s.length; i++) {
    const v = digitValue(s[i]!);
    if (v >= base) break;
    value = value * b + BigInt(v);
    if (value > U64_MAX) { overflow = true; value &= U64_MAX; }
  }
  return { end: i, value, overflow };
}

function kstrtoullRaw(s: string, base: number): bigint | undefined {
  const [radix, start] = fixupRadix(s, 0, base);
  const r = parseDigits(s, start, radix);
  if (r.overflow || r.end === start) return undefined;
  let end = r.end;
  if (s[end] === '\n') end++;
  return end === s.length ? r.value : undefined;
}

/** kernel: kstrtoull / kstrtoul (64-bit): optional '+', then _kstrtoull. */
export function kstrtoul(s: string, base = 0): bigint | undefined {
  return kstrtoullRaw(s[0] === '+' ? s.slice(1) : s, base);
}

/** kernel: kstrtoll / kstrtol; the value is returned as a signed bigint. */
export function kstrtol(s: string, base = 0): bigint | undefined {
  if (s[0] === '-') {
    const v = kstrtoullRaw(s.slice(1), base);
    if (v === undefined || v > S64_MAX + 1n) return undefined;
    return -v;
  }
  const v = kstrtoul(s, base);
  if (v === undefined || v > S64_MAX) return undefined;
  return v;
}

/** kernel: kstrtouint. */
export function kstrtouint(s: string, base = 0): bigint | undefined {
  const v = kstrtoul(s, base);
  return v === undefined || v > U32_MAX ? undefined : v;
}

/** kernel: simple_strtoul — as many digits as parse, and where it stopped. */
export function simpleStrtoul(s: string, pos: number, base = 0): { value: bigint; end: number } {
  const [radix, start] = fixupRadix(s, pos, base);
  const r = parseDigits(s, start, radix);
  return { value: r.value, end: r.end };
}

/** Two's-complement 64-bit view of a signed value (what an unsigned long holds). */
export const toU64 = (v: bigint): bigint => BigInt.asUintN(64, v);
