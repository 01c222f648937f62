// The split-BTF reader (bpf/btf-kernel.ts) on one module's BTF, judged by bpftool's raw dump of the same
// file on the same base: ids continuing after vmlinux's, names from strings
// past vmlinux's, every FUNC's prototype, every named member of the module's
// own structs and unions, and the lookups that must find nothing (`MOD:SYM`
// as written). Shared by the host test (a 6.12 guest kernel's module files)
// and the guest test (its /sys/kernel/btf).
import type { Test } from 'tap';
import { join } from 'node:path';
import { Kind, KIND_NAMES } from '../../bpf/btf.js';
import { openKernelBtf } from '../../bpf/btf-kernel.js';
import { bpftoolRaw } from './bpftool-raw.js';

export interface JudgeOptions {
  /** The vmlinux file bpftool needs with -B (none for /sys/kernel/btf). */
  readonly base?: string;
  /** Functions the kernel-wide lookup cannot find (kallsyms no longer has them). */
  readonly gone?: (name: string) => boolean;
  /** Also decode every type of the module (kinds, names, every FUNC_PROTO's parameters); default true. */
  readonly whole?: boolean;
}

/** Judges the readers on `dir/module` (dir laid out as /sys/kernel/btf). */
export function judgeModuleBtf(t: Test, dir: string, module: string, opts: JudgeOptions = {}): void {
  const { base, gone = () => false, whole: wholeParse = true } = opts;
  const raw = bpftoolRaw(join(dir, module), base);
  const ids = [...raw.keys()];
  const first = Math.min(...ids);
  const kernel = openKernelBtf(dir);
  if (!kernel) {
    t.fail(`${dir}/vmlinux does not open`);
    return;
  }
  t.equal(first, kernel.typeCount, `${module}: its ids start after vmlinux's ${kernel.typeCount - 1} types`);
  const mod = kernel.moduleBtf(module);
  t.ok(mod, `${module}: module BTF opens`);
  if (!mod) return;
  t.equal(mod.module, module, 'it knows its module');
  t.equal(mod.typeCount, Math.max(...ids) + 1, `${module}: type count`);

  // the lazy reader: every FUNC's prototype, found in the module's own BTF and through the kernel's search
  const funcs = [...raw.values()].filter((r) => r.kind === 'FUNC');
  let protos = 0;
  for (const f of funcs) {
    const firstOfName = funcs.find((g) => g.name === f.name)!;
    if (firstOfName !== f) continue;
    // a prototype vmlinux also has is vmlinux's (split BTF refers to base types by their ids)
    const protoId = Number(f.attrs.type_id);
    const proto = raw.get(protoId);
    const want = {
      funcId: f.id, protoId,
      ...(proto ? { ret: Number(proto.attrs.ret_type_id), params: proto.items.map((p) => [p.name === '(anon)' ? '' : p.name, Number(p.attrs.type_id)]) } : {}),
    };
    const own = mod.funcProto(f.name);
    const got = own && {
      funcId: own.funcId, protoId: own.protoId,
      ...(proto ? { ret: own.returnType, params: own.params.map((p) => [p.name, p.type]) } : {}),
    };
    t.same(got, want, `${module} ${f.name} prototype`);
    // kernel: bpf_find_btf_id — vmlinux's FUNC of the name wins, else the first module that has one
    const found = kernel.funcProto(f.name);
    // (a name vmlinux or an earlier-loaded module also has is theirs, as in the kernel)
    if (!found && gone(f.name)) t.pass(`${f.name}: not in kallsyms, so not found by a bare lookup`);
    else t.ok(found && (found.btf.module !== module || found.funcId === f.id), `${f.name}: the kernel-wide lookup finds it (in ${found?.btf.module ?? 'vmlinux'})`);
    t.equal(kernel.funcProto(`${module}:${f.name}`), undefined, `${module}:${f.name} is in no BTF (looked up as written)`);
    protos++;
  }
  t.ok(protos > 0, `${protos} prototypes compared`);

  // member lookups in the module's own composites (the reader's search is by name, so skip duplicates)
  let members = 0;
  for (const s of raw.values()) {
    if (s.kind !== 'STRUCT' && s.kind !== 'UNION') continue;
    for (const [i, m] of s.items.entries()) {
      if (m.name === '(anon)' || s.items.filter((x) => x.name === m.name).length > 1) continue;
      const got = mod.member(s.id, m.name);
      if (got === undefined || got === 'not-struct') {
        t.fail(`${s.name}.${m.name} not found`);
        continue;
      }
      t.same([got.type, got.bitOffset, got.bitfieldSize, got.accessIndices], [Number(m.attrs.type_id), Number(m.attrs.bits_offset), Number(m.attrs.bitfield_size ?? 0), [i]], `${module} ${s.kind.toLowerCase()} ${s.name}.${m.name}`);
      members++;
    }
  }
  t.comment(`${module}: ${protos} prototypes, ${members} members compared`);

  // every named struct and union of the module found by name in its BTF (split BTF may name it with one of vmlinux's strings)
  const composites = [...raw.values()].filter((r) => (r.kind === 'STRUCT' || r.kind === 'UNION') && r.name !== '(anon)');
  const unnamed = composites.filter((r) => composites.find((g) => g.kind === r.kind && g.name === r.name) === r)
    .filter((r) => mod.findNamed(r.kind === 'STRUCT' ? Kind.STRUCT : Kind.UNION, r.name) !== r.id);
  t.same(unnamed.map((r) => `[${r.id}] ${r.kind} ${r.name}`), [], `${module}: every struct and union found by its name`);

  if (!wholeParse) return;
  // every module type decoded: its kind and name, in its id space after vmlinux's
  const wrong = [...raw.values()].filter((r) => {
    const got = mod.type(r.id);
    return KIND_NAMES[got.kind] !== r.kind || (got.name || '(anon)') !== r.name;
  });
  t.same(wrong.map((r) => `[${r.id}] ${r.kind} ${r.name}`), [], `${module}: every type's kind and name as bpftool reads them`);
  const protoParams = [...raw.values()].filter((r) => r.kind === 'FUNC_PROTO').filter((r) => {
    const got = mod.type(r.id).params?.map((p) => `${p.name || '(anon)'}:${p.type}`);
    return got?.join(',') !== r.items.map((p) => `${p.name}:${p.attrs.type_id}`).join(',');
  });
  t.same(protoParams.map((r) => r.id), [], `${module}: every FUNC_PROTO's parameters as bpftool reads them`);
  for (const f of funcs.filter((g) => !kernel.funcProto(g.name) || kernel.funcProto(g.name)!.btf.module === module).slice(0, 5)) {
    t.equal(mod.findNamed(Kind.FUNC, f.name), f.id, `${f.name} found by name`);
  }
}
