// Every entry of a BPF hash map, read with BPF_MAP_GET_NEXT_KEY and
// BPF_MAP_LOOKUP_ELEM (the map is read while programs may still add to
// it: an entry added meanwhile may or may not be seen, as a `cat hist` of
// a live trigger).
import { addressOf, bpf } from '../sys/bpf.js';
import { SysError } from '../sys/libc.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { possibleCpuCount } from '../sys/cpu-list.js';
import { TASK_COMM_LEN } from '../../compiler/abi.js';

const BPF_MAP_LOOKUP_ELEM = 1;
const BPF_MAP_GET_NEXT_KEY = 4;
/** union bpf_attr, map element commands: map_fd u32, pad, key u64, value/next_key u64, flags u64. */
const ATTR_SIZE = 32;

export interface MapEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

export function readHashMap(fd: number, keySize: number, valueSize: number, cpus = 1): MapEntry[] {
  const out: MapEntry[] = [];
  let key: Buffer | undefined;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(fd, 0);
    attr.writeBigUInt64LE(key ? addressOf(key) : 0n, 8);
    attr.writeBigUInt64LE(addressOf(next), 16);
    try {
      bpf(BPF_MAP_GET_NEXT_KEY, attr, 'BPF_MAP_GET_NEXT_KEY');
    } catch (e) {
      if (e instanceof SysError && e.errno === LINUX_ERRNO.ENOENT) return out;
      throw e;
    }
    const value = Buffer.alloc(valueSize * cpus);
    const look = Buffer.alloc(ATTR_SIZE);
    look.writeUInt32LE(fd, 0);
    look.writeBigUInt64LE(addressOf(next), 8);
    look.writeBigUInt64LE(addressOf(value), 16);
    try {
      bpf(BPF_MAP_LOOKUP_ELEM, look, 'BPF_MAP_LOOKUP_ELEM');
      out.push({ key: next, value });
    } catch (e) {
      // an entry deleted between the two calls: nothing deletes ours, but a lookup miss is no error
      if (!(e instanceof SysError && e.errno === LINUX_ERRNO.ENOENT)) throw e;
    }
    key = next;
  }
}

/**
 * A PERCPU_HASH map's entries, each CPU's u64s summed into one value (the
 * entry number and the comm exist on the CPU that made the entry only, the
 * others hold zeros there, so summing keeps them; the comm is copied from the
 * first CPU that has one).
 */
export function readPerCpuHashMap(fd: number, keySize: number, valueSize: number, commOffset?: number): MapEntry[] {
  const cpus = possibleCpuCount();
  return readHashMap(fd, keySize, valueSize, cpus).map(({ key, value }) => {
    const one = Buffer.alloc(valueSize);
    for (let at = 0; at < valueSize; at += 8) {
      if (commOffset !== undefined && at >= commOffset && at < commOffset + TASK_COMM_LEN) continue;
      let sum = 0n;
      for (let c = 0; c < cpus; c++) sum += value.readBigUInt64LE(c * valueSize + at);
      one.writeBigUInt64LE(BigInt.asUintN(64, sum), at);
    }
    if (commOffset !== undefined) {
      for (let c = 0; c < cpus; c++) {
        if (value[c * valueSize + commOffset] !== 0) { value.copy(one, commOffset, c * valueSize + commOffset, c * valueSize + commOffset + TASK_COMM_LEN); break; }
      }
    }
    return { key, value: one };
  });
}
