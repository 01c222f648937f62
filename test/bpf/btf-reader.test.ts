// The .BTF reader's phases on hand-made sections: the header, one type of each
// kind laid out word by word as uapi/linux/btf.h documents it, resolve(), and
// the refusals. No tool, no kernel: every expected value is written out here.
import t from 'tap';
import { BtfError, Kind, parseBtf, parseBtfHeader, readBtfTypes } from '../../bpf/btf.js';

/** NUL-separated string section; returns each string's offset (offset 0 is ""). */
function strings(list: string[]): { bytes: Buffer; off: Record<string, number> } {
  const off: Record<string, number> = { '': 0 };
  let text = '\0';
  for (const s of list) {
    off[s] = text.length;
    text += `${s}\0`;
  }
  return { bytes: Buffer.from(text, 'latin1'), off };
}

/** Little-endian 32-bit words (signed or unsigned as given). */
const words = (ws: number[]): Buffer => {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => (w < 0 ? b.writeInt32LE(w, i * 4) : b.writeUInt32LE(w, i * 4)));
  return b;
};

/** struct btf_header (24 bytes) + types + strings, as `bpftool btf dump` expects them. */
function section(types: Buffer, strs: Buffer, hdrLen = 24): Buffer {
  const h = Buffer.alloc(hdrLen);
  h.writeUInt16LE(0xeb9f, 0);
  h.writeUInt8(1, 2);
  h.writeUInt32LE(hdrLen, 4);
  h.writeUInt32LE(0, 8);
  h.writeUInt32LE(types.length, 12);
  h.writeUInt32LE(types.length, 16);
  h.writeUInt32LE(strs.length, 20);
  return Buffer.concat([h, types, strs]);
}

const info = (kind: number, vlen = 0, kindFlag = 0): number => ((kindFlag << 31) | (kind << 24) | vlen) >>> 0;

const S = strings(['int', 'pair', 'a', 'b', 'e', 'A', 'B', 'e64', 'C', 'x', 'f', 'v', '.data', 'tag', 'double', 't', 'u']);
// One type of each kind; ids in comments.
const TYPES = words([
  /* 1 INT int: signed, 32 bits */ S.off.int!, info(1), 4, (1 << 24) | 32,
  /* 2 PTR -> 1 */ 0, info(2), 1,
  /* 3 ARRAY int[5] */ 0, info(3), 0, 1, 1, 5,
  /* 4 STRUCT pair {a; b} */ S.off.pair!, info(4, 2), 8, S.off.a!, 1, 0, S.off.b!, 1, 32,
  /* 5 ENUM e {A=-1, B=2} */ S.off.e!, info(6, 2), 4, S.off.A!, -1, S.off.B!, 2,
  /* 6 ENUM64 e64 {C=0x100000002} */ S.off.e64!, info(19, 1), 8, S.off.C!, 2, 1,
  /* 7 FUNC_PROTO int (x: int *) */ 0, info(13, 1), 1, S.off.x!, 2,
  /* 8 FUNC f, global linkage (vlen 1) */ S.off.f!, info(12, 1), 7,
  /* 9 VAR v: pair, extern */ S.off.v!, info(14), 4, 2,
  /* 10 DATASEC .data {v at 0, 8 bytes} */ S.off['.data']!, info(15, 1), 8, 9, 0, 8,
  /* 11 DECL_TAG tag on f, component -1 */ S.off.tag!, info(17), 8, -1,
  /* 12 FLOAT double */ S.off.double!, info(16), 8,
  /* 13 CONST -> 14 */ 0, info(10), 14,
  /* 14 TYPEDEF t -> 1 */ S.off.t!, info(8), 1,
  /* 15 FWD union u (kind_flag 1) */ S.off.u!, info(7, 0, 1), 0,
]);

t.test('the header says where the type and string sections are', async (t) => {
  t.same(parseBtfHeader(section(TYPES, S.bytes)), { typeOff: 24, typeLen: TYPES.length, strOff: 24 + TYPES.length, strLen: S.bytes.length });
  // A longer header (newer kernels' layout): offsets count from its end.
  t.same(parseBtfHeader(section(TYPES, S.bytes, 32)), { typeOff: 32, typeLen: TYPES.length, strOff: 32 + TYPES.length, strLen: S.bytes.length });
});

t.test('each kind reads its own data after struct btf_type', async (t) => {
  const bytes = section(TYPES, S.bytes);
  const str = (off: number): string => S.bytes.toString('latin1', off, S.bytes.indexOf(0, off));
  const types = readBtfTypes(bytes, parseBtfHeader(bytes), str);
  const common = (id: number, kind: number, name: string, vlen = 0) => ({ id, kind, name, vlen, kindFlag: false });
  t.strictSame(types, [
    { id: 0, kind: Kind.UNKN, name: '' },
    { ...common(1, Kind.INT, 'int'), size: 4, int: { encoding: 1, offset: 0, bits: 32 } },
    { ...common(2, Kind.PTR, ''), type: 1 },
    { ...common(3, Kind.ARRAY, ''), array: { type: 1, indexType: 1, nelems: 5 } },
    { ...common(4, Kind.STRUCT, 'pair', 2), size: 8, members: [{ name: 'a', type: 1, bitOffset: 0 }, { name: 'b', type: 1, bitOffset: 32 }] },
    { ...common(5, Kind.ENUM, 'e', 2), size: 4, enumValues: [{ name: 'A', value: -1n }, { name: 'B', value: 2n }] },
    { ...common(6, Kind.ENUM64, 'e64', 1), size: 8, enumValues: [{ name: 'C', value: 0x100000002n }] },
    { ...common(7, Kind.FUNC_PROTO, '', 1), type: 1, params: [{ name: 'x', type: 2 }] },
    { ...common(8, Kind.FUNC, 'f', 1), type: 7, linkage: 1 },
    { ...common(9, Kind.VAR, 'v'), type: 4, linkage: 2 },
    { ...common(10, Kind.DATASEC, '.data', 1), size: 8, vars: [{ type: 9, offset: 0, size: 8 }] },
    { ...common(11, Kind.DECL_TAG, 'tag'), type: 8, componentIdx: -1 },
    { ...common(12, Kind.FLOAT, 'double'), size: 8 },
    { ...common(13, Kind.CONST, ''), type: 14 },
    { ...common(14, Kind.TYPEDEF, 't'), type: 1 },
    { ...common(15, Kind.FWD, 'u'), kindFlag: true, type: 0 },
  ]);
});

t.test('parseBtf finds by kind and name and resolves through modifiers', async (t) => {
  const btf = parseBtf(section(TYPES, S.bytes));
  t.equal(btf.types.length, 16);
  t.equal(btf.find(Kind.STRUCT, 'pair')?.id, 4);
  t.equal(btf.find(Kind.STRUCT, 'nope'), undefined);
  t.equal(btf.resolve(13).id, 1, 'const -> typedef t -> int');
  t.equal(btf.resolve(2).id, 2, 'a pointer is not a modifier');
  t.equal(btf.str(S.off.double!), 'double');
  t.throws(() => btf.resolve(99), new BtfError('BTF type 99 out of range'));
});

t.test('refusals: bad magic, truncated sections, an unknown kind', async (t) => {
  const good = section(TYPES, S.bytes);
  const badMagic = Buffer.from(good);
  badMagic.writeUInt16LE(0x9feb, 0);
  t.throws(() => parseBtf(badMagic), new BtfError('not a BTF section (bad magic)'));
  t.throws(() => parseBtf(good.subarray(0, 20)), new BtfError('not a BTF section (bad magic)'), 'shorter than the header');
  t.throws(() => parseBtf(good.subarray(0, good.length - 1)), new BtfError('BTF section truncated'));
  t.throws(() => parseBtf(section(words([0, info(20), 0]), S.bytes)), new BtfError('unknown BTF kind 20 at type 1'));
  t.ok(new BtfError('x') instanceof Error && new BtfError('x').name === 'BtfError', 'BtfError names itself');
});
