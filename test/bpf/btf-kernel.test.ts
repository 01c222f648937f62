// The kernel BTF reader against this machine's /sys/kernel/btf/vmlinux, judged
// by bpftool's raw dump of the same file: every 97th FUNC's prototype (ids,
// parameter names and types, return type), and every named member of a spread
// of structs and unions found by name (bit offsets, bitfield sizes).
import t from 'tap';
import { existsSync } from 'node:fs';
import { Kind } from '../../bpf/btf.js';
import { openKernelBtf, VMLINUX_BTF } from '../../bpf/btf-kernel.js';
import { toolSkipReason } from './tools.js';
import { bpftoolRaw } from './bpftool-raw.js';

const skip = !existsSync(VMLINUX_BTF) ? `no ${VMLINUX_BTF} (kernel without CONFIG_DEBUG_INFO_BTF)` : toolSkipReason('bpftool');

t.test('kernel BTF reader against bpftool', { skip }, async (t) => {
  const raw = bpftoolRaw(VMLINUX_BTF);
  const btf = openKernelBtf()!;
  t.equal(btf.typeCount, [...raw.keys()].reduce((a, b) => Math.max(a, b), 0) + 1, 'type count');

  const funcs = [...raw.values()].filter((r) => r.kind === 'FUNC');
  const seen = new Set<string>();
  let checked = 0;
  for (let i = 0; i < funcs.length; i += 97) {
    const f = funcs[i]!;
    if (seen.has(f.name)) continue;
    seen.add(f.name);
    // the reader answers the first FUNC of a name, as the kernel's btf_find_by_name_kind
    const first = funcs.find((g) => g.name === f.name)!;
    const proto = raw.get(Number(first.attrs.type_id))!;
    const got = btf.funcProto(f.name);
    t.ok(got, `${f.name} found`);
    if (!got) continue;
    t.same(
      { funcId: got.funcId, protoId: got.protoId, ret: got.returnType, params: got.params.map((p) => [p.name, p.type]) },
      {
        funcId: first.id, protoId: proto.id, ret: Number(proto.attrs.ret_type_id),
        params: proto.items.map((p) => [p.name === '(anon)' ? '' : p.name, Number(p.attrs.type_id)]),
      },
      `${f.name} prototype`,
    );
    checked++;
  }
  t.ok(checked > 100, `${checked} prototypes compared`);
  t.equal(btf.funcProto('no_such_function_kprobe_bpf'), undefined, 'an unknown name has no prototype');

  const structs = [...raw.values()].filter((r) => (r.kind === 'STRUCT' || r.kind === 'UNION') && r.items.length > 0);
  let members = 0;
  for (let i = 0; i < structs.length; i += 211) {
    const s = structs[i]!;
    for (const m of s.items) {
      if (m.name === '(anon)' || s.items.filter((x) => x.name === m.name).length > 1) continue;
      const got = btf.member(s.id, m.name);
      t.ok(got !== undefined && got !== 'not-struct', `${s.name}.${m.name} found`);
      if (got === undefined || got === 'not-struct') continue;
      t.same(
        [got.type, got.bitOffset, got.bitfieldSize, got.accessIndices],
        [Number(m.attrs.type_id), Number(m.attrs.bits_offset), Number(m.attrs.bitfield_size ?? 0), [s.items.indexOf(m)]],
        `${s.name}.${m.name}`,
      );
      members++;
    }
  }
  t.ok(members > 200, `${members} members compared`);
});

t.test('anonymous members, modifiers and spelling', { skip: existsSync(VMLINUX_BTF) ? undefined : `no ${VMLINUX_BTF}` }, async (t) => {
  const btf = openKernelBtf()!;
  const read = btf.funcProto('vfs_read')!;
  t.same(read.params.map((p) => `${btf.typeName(p.type)} ${p.name}`), ['struct file * file', 'char * buf', 'size_t count', 'loff_t * pos']);
  t.equal(btf.typeName(read.returnType), 'ssize_t');
  const file = btf.skipModifiers(btf.skipModifiers(read.params[0]!.type).type.type!);
  t.equal(file.type.kind, Kind.STRUCT);
  t.equal(file.type.name, 'file');
  // struct file's f_path sits in an anonymous union on recent kernels, directly on older ones
  const fPath = btf.member(file.id, 'f_path');
  t.ok(fPath && fPath !== 'not-struct', 'f_path found');
  if (fPath && fPath !== 'not-struct') {
    const direct = file.type.members!.some((m) => m.name === 'f_path');
    t.equal(fPath.accessIndices.length, direct ? 1 : 2, 'access path through the anonymous member');
    const count = btf.skipModifiers(read.params[2]!.type);
    t.equal(count.type.kind, Kind.INT, 'size_t resolves to an INT');
  }
  t.equal(btf.member(btf.skipModifiers(read.params[2]!.type).id, 'x'), 'not-struct', 'member of an int: the kernel\'s -EINVAL');
});
