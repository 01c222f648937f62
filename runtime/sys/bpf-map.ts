// The one bpf(2) command the tracer makes itself: storing each CPU's perf
// event fd in the PERF_EVENT_ARRAY map. Everything else goes through the
// loader. The attr points at Node buffers, real memory, so nothing needs the
// wasm bridge's translation.
import { addressOf, bpf } from './bpf.js';
import { possibleCpuCount } from './cpu-list.js';

const BPF_MAP_LOOKUP_ELEM = 1;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_ANY = 0n;
/** union bpf_attr, map element commands: map_fd u32, pad, key u64, value u64, flags u64. */
const ATTR_SIZE = 32;

/** map[key] = value for a map with u32 keys and u32 values. */
export function mapUpdateU32(mapFd: number, key: number, value: number): void {
  const k = Buffer.alloc(4);
  const v = Buffer.alloc(4);
  k.writeUInt32LE(key);
  v.writeUInt32LE(value);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(mapFd, 0);
  attr.writeBigUInt64LE(addressOf(k), 8);
  attr.writeBigUInt64LE(addressOf(v), 16);
  attr.writeBigUInt64LE(BPF_ANY, 24);
  bpf(BPF_MAP_UPDATE_ELEM, attr, 'BPF_MAP_UPDATE_ELEM');
}

/**
 * The sum over every possible CPU of a per-CPU map's u64 value at key (the
 * kernel copies one 8-byte-aligned value per possible CPU).
 */
export function mapLookupPerCpuU64Sum(mapFd: number, key: number): bigint {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key);
  const cpus = possibleCpuCount();
  const v = Buffer.alloc(8 * cpus);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(mapFd, 0);
  attr.writeBigUInt64LE(addressOf(k), 8);
  attr.writeBigUInt64LE(addressOf(v), 16);
  bpf(BPF_MAP_LOOKUP_ELEM, attr, 'BPF_MAP_LOOKUP_ELEM');
  let sum = 0n;
  for (let c = 0; c < cpus; c++) sum += v.readBigUInt64LE(8 * c);
  return sum;
}
