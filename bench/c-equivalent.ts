// Writes the C a careful person would write by hand for the same probe
// program (same record, same helpers), so clang -O2's instruction count can be
// set beside ours. Generated from our object spec (IR, maps, externs) so both
// sides do exactly the same work.
import { MapType } from '../bpf/elf.js';
import type { MapSpec } from '../bpf/elf-writer.js';
import {
  FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP, PREFIX_COMM, PREFIX_CPU, PREFIX_TGID, PREFIX_TS,
  RECORD_PREFIX_SIZE, RINGBUF_BYTES, TASK_COMM_LEN, type EventFormat,
} from '../compiler/abi.js';
import type { FetchProgram, FetchSource, MemSpace, ProbeProgram } from '../compiler/ir.js';
import type { ObjectSpec } from '../compiler/object.js';

const NOFAULT_READ: Record<MemSpace, string> = { auto: 'bpf_probe_read', kernel: 'bpf_probe_read_kernel', user: 'bpf_probe_read_user' };
/** As codegen's READ_HELPER: sleepable programs read user memory with the faulting bpf_copy_from_user. */
const READ_BY: Record<'sleepable' | 'atomic', Record<MemSpace, string>> = {
  atomic: NOFAULT_READ,
  sleepable: { ...NOFAULT_READ, user: 'bpf_copy_from_user' },
};
const READ_STR: Record<MemSpace, string> = { auto: 'bpf_probe_read_str', kernel: 'bpf_probe_read_kernel_str', user: 'bpf_probe_read_user_str' };
const U: Record<number, string> = { 1: '__u8', 2: '__u16', 4: '__u32', 8: '__u64' };
const E = (off: number) => RECORD_PREFIX_SIZE + off;
/** A common or probe field's offset, as the layout placed it. */
const fieldAt = (f: EventFormat, name: string): number => [...f.commonFields, ...f.probeFields].find((x) => x.name === name)!.offset;
const ipField = (f: EventFormat): number => fieldAt(f, f.isReturn ? FIELD_STRING_FUNC : FIELD_STRING_IP);

const MAP_TYPE_NAME: Readonly<Record<number, string>> = {
  [MapType.PERF_EVENT_ARRAY]: 'BPF_MAP_TYPE_PERF_EVENT_ARRAY',
  [MapType.PERCPU_ARRAY]: 'BPF_MAP_TYPE_PERCPU_ARRAY',
  [MapType.RINGBUF]: 'BPF_MAP_TYPE_RINGBUF',
  [MapType.TASK_STORAGE]: 'BPF_MAP_TYPE_TASK_STORAGE',
};

/** The spec's map as a BTF-defined map in C (a zero size or count is left for libbpf to pick). */
function mapDecl(m: MapSpec): string {
  const attrs = [
    `__uint(type, ${MAP_TYPE_NAME[m.type] ?? m.type})`,
    ...(m.maxEntries ? [`__uint(max_entries, ${m.maxEntries})`] : []),
    ...(m.btfKeyValue
      ? ['__type(key, int)', `__type(value, char[${m.valueSize}])`]
      : [...(m.keySize ? [`__uint(key_size, ${m.keySize})`] : []), ...(m.valueSize ? [`__uint(value_size, ${m.valueSize})`] : [])]),
    ...(m.mapFlags ? [`__uint(map_flags, ${m.mapFlags})`] : []),
  ];
  return `struct { ${attrs.join('; ')}; } ${m.name} SEC(".maps");`;
}

function source(s: FetchSource, format: EventFormat): string {
  switch (s.op) {
    case 'reg': return `*(__u64 *)((char *)ctx + ${s.ptRegsOffset})`;
    case 'imm': return `${BigInt.asUintN(64, s.value)}ULL`;
    case 'ksym': return `(__u64)&${s.symbol} + ${s.offset}`;
    case 'foffs': return `*(__u64 *)(rec + ${E(ipField(format))}) + ${s.fileOffset - s.probeFileOffset}`;
    case 'comm': case 'immstr': return '0';
    case 'event-field': return `0 /* eprobe $${s.name}: not in the C equivalent */`;
    case 'ctx': return `((__u64 *)ctx)[${s.offset / 8}]`;
    case 'entry-word': return `entry_word(${s.slot})`;
  }
}

/** A dynamic datum whose address is read from memory: a fault there leaves the kernel's pending __data_loc (codegen: pushDerefFault). */
const mayLeavePending = (f: FetchProgram): boolean =>
  (f.store.op === 'string' || f.store.op === 'symstr') && (f.derefs.length > 0 || (f.store.op === 'string' && f.count !== undefined));

/** The __data_loc words of a fetch's elements. */
const locsOf = (f: FetchProgram): number[] => Array.from({ length: f.count ?? 1 }, (_, i) => f.fieldOffset + 4 * i);

/** On a dereference fault: element `from` pending (its length settled at the end), the later ones faulted; then the fetch ends. */
const pendingFrom = (f: FetchProgram, from: number, done: string): string =>
  `{ ${locsOf(f).slice(from).map((o, i) => `*(__u32 *)(rec + ${E(o)}) = ${i === 0 ? '0xffff0000 | ' : ''}dyn;`).join(' ')} goto ${done}; }`;

/** After every fetch: each pending __data_loc's length is what remains of the dynamic area from its offset. */
function settlePending(p: ProbeProgram): string[] {
  return p.fetches.filter(mayLeavePending).flatMap((f) => locsOf(f).map((o) =>
    `  { __u32 l = *(__u32 *)(rec + ${E(o)}); if ((l >> 16) == 0xffff) *(__u32 *)(rec + ${E(o)}) = ((dyn - (l & 0xffff)) << 16) | (l & 0xffff); }`));
}

function fetch(f: FetchProgram, p: ProbeProgram, k: number): string {
  const maxStr = p.maxStringSize, sleepable = p.sleepable;
  const READ = READ_BY[sleepable ? 'sleepable' : 'atomic'];
  const lines = [`  /* ${f.argName}=${f.argText} */`, `  v = ${source(f.source, p.format)};`];
  const done = `fetch_done_${k}`;
  const pending = mayLeavePending(f);
  for (const d of f.derefs) {
    lines.push(pending ? `  if (${READ[d.space]}(&tmp, 8, (void *)(v + ${d.offset})) < 0) ${pendingFrom(f, 0, done)} v = tmp;` : `  ${READ[d.space]}(&tmp, 8, (void *)(v + ${d.offset})); v = tmp;`);
  }
  const field = E(f.fieldOffset);
  // sleepable user strings: on failure fault the first, then the next page in and retry (codegen: emitFaultingUserString)
  const retry = (space: MemSpace, addr: string) => sleepable && space === 'user' ? [
    `  if (n < 0) { a = (__u64)(${addr}); bpf_copy_from_user(&c, 1, (void *)a);`,
    `    n = ${READ_STR[space]}(rec + ${RECORD_PREFIX_SIZE} + dyn, ${maxStr}, (void *)a);`,
    `    if (n < 0) { bpf_copy_from_user(&c, 1, (void *)((a | 4095) + 1));`,
    `      n = ${READ_STR[space]}(rec + ${RECORD_PREFIX_SIZE} + dyn, ${maxStr}, (void *)a); } }`,
  ] : [];
  const str = (space: MemSpace, addr: string, fo: number) => [
    `  n = ${READ_STR[space]}(rec + ${RECORD_PREFIX_SIZE} + dyn, ${maxStr}, (void *)(${addr}));`,
    ...retry(space, addr),
    `  if ((unsigned long)n > ${maxStr}) n = 0;`,
    `  *(__u32 *)(rec + ${E(fo)}) = (n << 16) | dyn; dyn += n;`,
  ];
  const st = f.store;
  switch (st.op) {
    case 'raw': {
      let v = 'v';
      if (f.bitfield) { const spare = 64 - f.bitfield.containerSize * 8; v = `((v << ${f.bitfield.lshift + spare}) >> ${f.bitfield.rshift + spare})`; }
      lines.push(`  *(${U[st.size]} *)(rec + ${field}) = ${v};`); break;
    }
    case 'mem':
      lines.push(`  ${READ[st.space]}(rec + ${field}, ${st.size * (f.count ?? 1)}, (void *)(v + ${st.offset}));`);
      if (f.bitfield) {
        const spare = 64 - f.bitfield.containerSize * 8;
        lines.push(`  *(${U[st.size]} *)(rec + ${field}) = ((__u64)*(${U[st.size]} *)(rec + ${field}) << ${f.bitfield.lshift + spare}) >> ${f.bitfield.rshift + spare};`);
      }
      break;
    case 'string':
      if (f.count === undefined) lines.push(...str(st.space, `v + ${st.offset}`, f.fieldOffset));
      else for (let i = 0; i < f.count; i++) {
        lines.push(`  if (${READ[st.space]}(&tmp, 8, (void *)(v + ${st.offset + BigInt(8 * i)})) < 0) ${pendingFrom(f, i, done)}`, ...str(st.space, 'tmp', f.fieldOffset + 4 * i));
      }
      break;
    case 'comm':
      lines.push(...str('kernel', `rec + ${PREFIX_COMM}`, f.fieldOffset).map((l) => l.replace(`${maxStr}`, `${TASK_COMM_LEN}`).replace(`> ${maxStr}`, `> ${TASK_COMM_LEN}`)));
      break;
    case 'immstr': {
      const len = st.readable ? Buffer.byteLength(st.value) + 1 : 0;
      if (len) lines.push(`  __builtin_memcpy(rec + ${RECORD_PREFIX_SIZE} + dyn, ${JSON.stringify(st.value)}, ${len});`);
      lines.push(`  *(__u32 *)(rec + ${field}) = (${len} << 16) | dyn; dyn += ${len};`);
      break;
    }
    case 'symstr':
      lines.push(`  *(__u64 *)(rec + ${RECORD_PREFIX_SIZE} + dyn) = v;`, `  *(__u32 *)(rec + ${field}) = (8 << 16) | dyn; dyn += 8;`);
      break;
  }
  if (pending) lines.push(`${done}:;`);
  return lines.join('\n');
}

function probeIp(p: ProbeProgram): string {
  const ip = p.probeIp;
  const first = ip.op === 'ksym' ? `(__u64)&${ip.symbol} + ${ip.offset}`
    : ip.op === 'imm' ? `${ip.value}ULL`
      : ip.op === 'reg-ip' ? '*(__u64 *)((char *)ctx + 128)' : 'bpf_get_func_ip(ctx)';
  const lines = [`  *(__u64 *)(rec + ${E(ipField(p.format))}) = ${first};`];
  if (p.format.isReturn) lines.push(`  *(__u64 *)(rec + ${E(fieldAt(p.format, FIELD_STRING_RETIP))}) = *(__u64 *)((char *)ctx + 128);`);
  return lines.join('\n');
}

/** A complete C translation unit for the object spec's programs, compiled with clang -target bpf. */
export function cEquivalent(spec: ObjectSpec): string {
  const { programs } = spec;
  const out = [
    '#include <linux/types.h>',
    '#include <linux/bpf.h>',
    '#include <bpf/bpf_helpers.h>',
    ...spec.externs.map((s) => `extern const void ${s} __ksym;`),
    ...spec.maps.map(mapDecl),
    `char LICENSE[] SEC("license") = "${spec.license}";`,
  ];
  for (const { ir, eventId } of programs) {
    const dynamic = ir.fetches.some((f) => ['string', 'comm', 'immstr', 'symstr'].includes(f.store.op));
    const miss = [`    __u32 id = ${eventId}; __u64 *m = bpf_map_lookup_elem(&misses, &id);`, '    if (m) *m += 1;'];
    // codegen's RECORD_SINK: a sleepable program builds its record in the task's scratch and copies it into the ring buffer
    const acquire = ir.sleepable
      ? ['  char *rec = bpf_task_storage_get(&task_scratch, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);', '  if (!rec) {', ...miss, '    return 0;', '  }']
      : ['  char *rec = bpf_map_lookup_elem(&scratch, &key);', '  if (!rec) return 0;'];
    const size = dynamic ? `dyn + ${RECORD_PREFIX_SIZE}` : RECORD_PREFIX_SIZE + ir.format.entrySize;
    const submit = [
      ir.sleepable
        ? `  if (bpf_ringbuf_output(&records, rec, ${size}, bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) < ${RINGBUF_BYTES / 4} ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP)) {`
        : `  if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, rec, ${size})) {`,
      ...miss,
      '  }',
    ];
    out.push(
      `SEC("${ir.section}") int ${ir.name}(void *ctx) {`,
      '  __u32 key = 0; __u64 v, tmp, dyn, a; long n; char c;',
      ...acquire,
      `  *(__u64 *)(rec + ${PREFIX_TS}) = bpf_ktime_get_ns();`,
      '  v = bpf_get_current_pid_tgid();',
      `  *(__u32 *)(rec + ${E(fieldAt(ir.format, 'common_pid'))}) = v; *(__u32 *)(rec + ${PREFIX_TGID}) = v >> 32;`,
      `  *(__u32 *)(rec + ${PREFIX_CPU}) = bpf_get_smp_processor_id();`,
      `  bpf_get_current_comm(rec + ${PREFIX_COMM}, ${TASK_COMM_LEN});`,
      `  *(__u32 *)(rec + ${E(fieldAt(ir.format, 'common_type'))}) = ${eventId};`,
      probeIp(ir),
      `  dyn = ${ir.format.entrySize};`,
      ...ir.fetches.map((f, k) => fetch(f, ir, k)),
      ...settlePending(ir),
      ...submit,
      '  return 0;',
      '}',
    );
  }
  return out.join('\n') + '\n';
}
