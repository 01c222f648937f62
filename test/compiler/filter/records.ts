// Random records of the filter test event (gen.ts's FILTER_TEST_LINE), laid
// out as our programs lay them out: prefix (cpu, comm), entry, then the
// strings in the dynamic area, a faulted string now and then.
import { PREFIX_COMM, PREFIX_CPU, RECORD_PREFIX_SIZE } from '../../../compiler/abi.js';
import { eventFieldsOf } from '../../../compiler/filter-events.js';
import type { ProbeProgram } from '../../../compiler/ir.js';
import { pick, WORDS, type Rand } from './gen.js';

export interface TestRecord { readonly bytes: Uint8Array; readonly cpu: number; readonly comm: string }

function writeInt(b: Uint8Array, off: number, size: number, v: bigint): void {
  for (let i = 0; i < size; i++) b[off + i] = Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn);
}

const INTERESTING = [0n, 1n, -1n, 2n, 3n, 100n, -100n, 127n, 128n, 255n, 256n, 65535n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, -(1n << 63n), (1n << 63n) - 1n];

/** A record as our programs build it: prefix, entry, then the strings in the dynamic area. */
export function record(r: Rand, p: ProbeProgram, capacity: number, maxString: number): TestRecord {
  const fields = eventFieldsOf(p.format);
  const fieldAt = (name: string) => fields.find((f) => f.name === name) ?? p.format.commonFields.find((f) => f.name === name)!;
  const b = new Uint8Array(capacity);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  const entry = RECORD_PREFIX_SIZE;
  const cpu = Math.floor(r() * 4);
  const comm = pick(r, WORDS).slice(0, 15);
  writeInt(b, PREFIX_CPU, 4, BigInt(cpu));
  b.fill(0, PREFIX_COMM, PREFIX_COMM + 16);
  b.set(Buffer.from(comm, 'latin1'), PREFIX_COMM);
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'u', 'h', 'common_pid', 'common_type', '__probe_ip']) {
    const f = fieldAt(name);
    writeInt(b, entry + f.offset, f.size, r() < 0.7 ? pick(r, INTERESTING) : BigInt(Math.floor(r() * 2 ** 32)) * BigInt(Math.floor(r() * 2 ** 32)));
  }
  const g = fieldAt('g');
  b.set(Buffer.from(pick(r, WORDS).padEnd(4, '\0').slice(0, 4), 'latin1'), entry + g.offset);
  let dyn = p.format.entrySize;
  for (const [name, text] of [['s', pick(r, WORDS).slice(0, maxString - 1)], ['cm', comm]] as const) {
    const f = fieldAt(name);
    if (name === 's' && r() < 0.1) {
      // a fault: length 0 at the current offset, which stays where it is: the
      // matchers read what follows there (cm's text), as the kernel's do
      writeInt(b, entry + f.offset, 4, BigInt(dyn));
      continue;
    }
    const bytes = Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(1)]);
    b.set(bytes, entry + dyn);
    writeInt(b, entry + f.offset, 4, BigInt((bytes.length << 16) | dyn));
    dyn += bytes.length;
  }
  return { bytes: b, cpu, comm };
}
