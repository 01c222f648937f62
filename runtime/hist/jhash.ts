// The kernel's jhash (include/linux/jhash.h, Bob Jenkins' lookup3) over a
// key's bytes, the hash tracing_map places entries by.
const rol = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

function mix(s: Uint32Array): void {
  let [a, b, c] = [s[0]!, s[1]!, s[2]!];
  a = (a - c) >>> 0; a ^= rol(c, 4); c = (c + b) >>> 0;
  b = (b - a) >>> 0; b ^= rol(a, 6); a = (a + c) >>> 0;
  c = (c - b) >>> 0; c ^= rol(b, 8); b = (b + a) >>> 0;
  a = (a - c) >>> 0; a ^= rol(c, 16); c = (c + b) >>> 0;
  b = (b - a) >>> 0; b ^= rol(a, 19); a = (a + c) >>> 0;
  c = (c - b) >>> 0; c ^= rol(b, 4); b = (b + a) >>> 0;
  s[0] = a; s[1] = b; s[2] = c;
}

function final(s: Uint32Array): void {
  let [a, b, c] = [s[0]!, s[1]!, s[2]!];
  c ^= b; c = (c - rol(b, 14)) >>> 0;
  a ^= c; a = (a - rol(c, 11)) >>> 0;
  b ^= a; b = (b - rol(a, 25)) >>> 0;
  c ^= b; c = (c - rol(b, 16)) >>> 0;
  a ^= c; a = (a - rol(c, 4)) >>> 0;
  b ^= a; b = (b - rol(a, 14)) >>> 0;
  c ^= b; c = (c - rol(b, 24)) >>> 0;
  s[0] = a; s[1] = b; s[2] = c;
}

/** kernel: jhash(key, length, initval). */
export function jhash(key: Uint8Array, initval = 0): number {
  let length = key.length;
  const s = new Uint32Array(3);
  s.fill((0xdeadbeef + length + initval) >>> 0);
  let k = 0;
  const word = (at: number) => (key[at]! | (key[at + 1]! << 8) | (key[at + 2]! << 16) | (key[at + 3]! << 24)) >>> 0;
  while (length > 12) {
    s[0] = (s[0]! + word(k)) >>> 0;
    s[1] = (s[1]! + word(k + 4)) >>> 0;
    s[2] = (s[2]! + word(k + 8)) >>> 0;
    mix(s);
    length -= 12;
    k += 12;
  }
  if (length === 0) return s[2]!;
  // the last 1..12 bytes, little-endian into a, b, c (the switch's fall-through)
  for (let i = length - 1; i >= 0; i--) {
    const slot = Math.floor(i / 4);
    s[slot] = (s[slot]! + (key[k + i]! << (8 * (i % 4)) >>> 0)) >>> 0;
  }
  final(s);
  return s[2]!;
}
