// The BPF ring buffer sized to the records and CPUs (trace passes its CPU
// count): small records get a small ring (it is all resident); string records
// go into it at their used length, so it is sized for strings of
// EXPECTED_STRING_BYTES, not the largest; the programs' wakeup threshold is a
// quarter of whichever ring the object has. Without a CPU count the object
// keeps RINGBUF_BYTES.
import t from 'tap';
import { RINGBUF_BYTES, RINGBUF_MAP, RINGBUF_MIN_BYTES, RINGBUF_RECORDS_PER_CPU, ringbufBytes } from '../../../compiler/abi.js';
import { EXPECTED_STRING_BYTES, buildObjectSpec, expectedRecordBytes } from '../../../compiler/object.js';
import { recordCapacity } from '../../../compiler/lower.js';
import { disassemble } from '../../../bpf/disasm.js';
import type { ProbeDefinition } from '../../../grammar/ast.js';
import { parseProbeCommands } from '../../../grammar/index.js';

const defs = (line: string): ProbeDefinition[] => parseProbeCommands(line, {}).commands.filter((c): c is ProbeDefinition => c.op === 'define');
// an integer read from memory: a sleepable program (one reading only registers is atomic, no ring buffer)
const INT = 'p:g/int /bin/true:0x1000 i=+0(%di):s32';
const STR = 'p:g/str /bin/true:0x1000 s=+0(%si):ustring';

t.test('ringbufBytes: a power of two between the floor and RINGBUF_BYTES, growing with records and CPUs', async (t) => {
  t.equal(ringbufBytes(64, 1), RINGBUF_MIN_BYTES);
  t.equal(ringbufBytes(64, 2), RINGBUF_MIN_BYTES);
  t.equal(ringbufBytes(RINGBUF_MIN_BYTES / RINGBUF_RECORDS_PER_CPU, 2), 2 * RINGBUF_MIN_BYTES, 'two CPUs of records that fill the floor once');
  t.equal(ringbufBytes(4200, 2), RINGBUF_BYTES, 'string records: the largest');
  t.equal(ringbufBytes(4200, 64), RINGBUF_BYTES, 'never above it');
  t.equal(ringbufBytes(64, 0), RINGBUF_MIN_BYTES, 'no CPU count below one');
  for (const [r, c] of [[1, 1], [100, 3], [300, 5], [1000, 2]] as const) {
    const b = ringbufBytes(r, c);
    t.ok(b >= RINGBUF_MIN_BYTES && b <= RINGBUF_BYTES && (b & (b - 1)) === 0, `${r} B x ${c} CPUs -> ${b}`);
  }
});

/** The ring's size in the spec and the wakeup thresholds its programs compare with. */
function ringOf(line: string, ringCpus?: number): { size: number | undefined; wakeups: number[] } {
  const spec = buildObjectSpec(defs(line), ringCpus === undefined ? {} : { ringCpus });
  const size = spec.maps.find((m) => m.name === RINGBUF_MAP)?.maxEntries;
  const wakeups = spec.programs.flatMap((p) => disassemble(p.spec.insns ?? [], { annotate: false, strict: false })
    .map((l) => /if r0 < (0x[0-9a-f]+|\d+) goto/.exec(l)?.[1]).filter((x): x is string => x !== undefined).map(Number));
  return { size, wakeups };
}

t.test('an object for a trace on N CPUs has the ring ringbufBytes gives, and wakes at a quarter of it', async (t) => {
  const small = ringOf(INT, 2);
  const cap = recordCapacity(buildObjectSpec(defs(INT)).programs[0]!.ir);
  t.equal(small.size, ringbufBytes(cap, 2));
  t.ok(small.size! < RINGBUF_BYTES, `an integer record (${cap} B) gets less than RINGBUF_BYTES: ${small.size}`);
  t.same(small.wakeups, [small.size! / 4]);
  const str = ringOf(STR, 2);
  const strIr = buildObjectSpec(defs(STR)).programs[0]!.ir;
  t.equal(expectedRecordBytes(strIr), recordCapacity(strIr) - (strIr.maxStringSize - EXPECTED_STRING_BYTES), 'a string counts EXPECTED_STRING_BYTES');
  t.equal(str.size, ringbufBytes(expectedRecordBytes(strIr), 2));
  t.ok(str.size! < RINGBUF_BYTES, `a string record is sized by its expected length, not MAX_STRING_SIZE: ${str.size}`);
  t.same(str.wakeups, [str.size! / 4]);
  const many = `p:g/many /bin/true:0x1000 ${Array.from({ length: 8 }, (_, i) => `s${i}=+${i * 8}(%si):ustring`).join(' ')}`;
  const manyIr = buildObjectSpec(defs(many)).programs[0]!.ir;
  const big = ringOf(`${INT}\n${many}`, 64);
  t.equal(big.size, ringbufBytes(expectedRecordBytes(manyIr), 64), 'the largest expected record of the object decides');
  t.same(big.wakeups, [big.size! / 4, big.size! / 4], 'every program wakes at a quarter of the one ring');
});

t.test('without a CPU count (compile -o) the ring is RINGBUF_BYTES', async (t) => {
  const r = ringOf(INT);
  t.equal(r.size, RINGBUF_BYTES);
  t.same(r.wakeups, [RINGBUF_BYTES / 4]);
});
