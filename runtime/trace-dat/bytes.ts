// Little-endian building blocks of trace.dat (trace-cmd.dat.v6(5): "all
// numbers are written in file defined endianess"; we write little endian).

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A NUL-terminated string. */
export function cstring(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'latin1');
}

/** Text preceded by its byte length as a u32 or u64, as each section says. */
export function sized(text: string | Buffer, sizeBytes: 4 | 8): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return Buffer.concat([sizeBytes === 4 ? u32(body.length) : u64(body.length), body]);
}
