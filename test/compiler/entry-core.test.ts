// Judged by bpftool (skipped without it), so it lives outside compiler/unit/, which must pass as nobody without LLVM.
// Two things a return or member access needs beyond one program's registers:
// entry arguments of a return kprobe (an entry program saving them in a map,
// the return program taking them out) and CO-RE member offsets (an `add`
// carrying a .BTF.ext core_relo record, with one-member local types in .BTF).
// bpftool reads the object's BTF as the independent judge of the local types.
import t from 'tap';
import { disassemble } from '../../bpf/disasm.js';
import { parseBtf, Kind } from '../../bpf/btf.js';
import { openKernelBtf } from '../../bpf/btf-kernel.js';
import { coreAccessString } from '../../bpf/btf-core.js';
import { readObject } from '../../bpf/elf-reader.js';
import { compileDefinitions } from '../../compiler/object.js';
import { coreAccessIn } from '../../compiler/core-relo.js';
import { ENTRY_DATA_MAP, wordSlot } from '../../compiler/entry-data.js';
import { BtfBuilder, IntEncoding } from '../../bpf/btf.js';
import type { FetchArg, MemberAccess, ProbeDefinition } from '../../grammar/ast.js';
import { kernelRules, parseProbeCommands } from '../../grammar/index.js';
import { run, toolSkipReason, writeTemp } from '../bpf/tools.js';

const rules = kernelRules('6.12').probe;
const def = (line: string): ProbeDefinition => parseProbeCommands(line, { rules }).commands[0] as ProbeDefinition;

/** A BTF with `struct path { void *mnt; struct dentry *dentry; }` and `struct file { int f_mode; struct path f_path; }`. */
function kernelLikeBtf(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, IntEncoding.SIGNED);
  const dentry = b.struct('dentry', 64, []);
  const path = b.struct('path', 16, [{ name: 'mnt', type: b.ptr(0), bitOffset: 0 }, { name: 'dentry', type: b.ptr(dentry), bitOffset: 64 }]);
  b.struct('file', 24, [{ name: 'f_mode', type: int, bitOffset: 0 }, { name: 'f_path', type: path, bitOffset: 64 }]);
  return b.encode();
}

t.test('entry arguments: saved by an entry kprobe, taken back by the kretprobe', async (t) => {
  const obj = compileDefinitions([def('r:k/rd ksys_read count=$arg3:u64 b=+0($arg2):u8 ret=$retval:s64')]);
  const [p] = obj.programs;
  t.same(p!.ir.entryData, { args: [2, 3] }, '$arg2 and $arg3 are saved');
  t.equal(p!.entry?.spec.section, 'kprobe/ksys_read', 'the entry program is a kprobe on the same function');
  const ret = disassemble(p!.spec.insns ?? [], { annotate: true, strict: false }).join('\n');
  t.match(ret, /call 1\n[^\n]*if r0 != 0 goto[^\n]*\n[^\n]*goto/, 'no entry words: no record');
  t.match(ret, /call 3\n/, 'the words are deleted once read');
  t.match(ret, new RegExp(`; count=\\$arg3:u64\\n[^\\n]*r3 = \\*\\(u64 \\*\\)\\(r10 - ${-wordSlot(1)}\\)`), '$arg3 is word 1 on the stack');
  const entry = disassemble(p!.entry!.spec.insns ?? [], { annotate: true, strict: false }).join('\n');
  t.match(entry, /r1 = \*\(u64 \*\)\(r6 \+ 104\)[\s\S]*r1 = \*\(u64 \*\)\(r6 \+ 96\)[\s\S]*call 2\n/, 'si and dx of pt_regs, then map_update_elem');
  const elf = readObject(obj.object);
  t.ok(elf.maps.some((m) => m.name === ENTRY_DATA_MAP), 'the object has the entry_data map');
  t.equal(compileDefinitions([def('r:k/rd ksys_read ret=$retval')]).programs[0]!.entry, undefined, 'no entry arguments, no entry program');
  t.equal(compileDefinitions([def('r:k/rd ksys_read c=$arg3')], { entryArgs: false }).programs[0]!.entry, undefined, '6.1 reads the register at the return');
});

t.test('CO-RE: a member path becomes one-member local types and an access string', async (t) => {
  const btf = openKernelBtf(writeTemp('kernel-like.btf', kernelLikeBtf()))!;
  const a = coreAccessIn(btf, { root: 'file', path: ['f_path', 'dentry'], accessIndices: [1, 1] });
  t.match(a.root, { kind: 'struct', name: 'file', size: 24, member: { name: 'f_path', bitOffset: 64, type: { kind: 'struct', name: 'path', member: { name: 'dentry', bitOffset: 64, type: { kind: 'ptr' } } } } });
  t.equal(coreAccessString(a), '0:0:0');
  t.throws(() => coreAccessIn(btf, { root: 'file', path: ['nope'], accessIndices: [0] }), /no member nope/);
});

t.test('CO-RE in the object, as bpftool reads its BTF', { skip: toolSkipReason('bpftool') }, async (t) => {
  const btf = openKernelBtf(writeTemp('kernel-like.btf', kernelLikeBtf()))!;
  const d = def('p:k/f vfs_read d=+16(%di):x64');
  const fetch = d.args[0]!.fetch as Extract<FetchArg, { kind: 'deref' }>;
  const annotated: ProbeDefinition = { ...d, args: [{ ...d.args[0]!, fetch: { ...fetch, member: { root: 'file', path: ['f_path', 'dentry'], accessIndices: [1, 1] } } }] };
  const obj = compileDefinitions([annotated], { coreTypes: { access: (m: MemberAccess) => coreAccessIn(btf, m) } });
  const insns = disassemble(obj.programs[0]!.spec.insns ?? [], { annotate: true, strict: false }).join('\n');
  t.match(insns, /; d=\+16\(%di\):x64\n[^\n]*r3 = \*\(u64 \*\)\(r6 \+ 112\)\n[^\n]*r3 \+= 16\n/, 'the offset is an add libbpf can patch');
  const raw = run('bpftool', ['btf', 'dump', 'file', writeTemp('core.o', obj.object), 'format', 'raw']).stdout;
  t.match(raw, /STRUCT 'file' size=24 vlen=1\n\t'f_path' type_id=\d+ bits_offset=64/, 'struct file with f_path only');
  t.match(raw, /STRUCT 'path' size=16 vlen=1\n\t'dentry' type_id=\d+ bits_offset=64/, 'struct path with dentry only');
  const ext = readObject(obj.object).section('.BTF.ext');
  t.ok(ext, 'a .BTF.ext section');
  const v = new DataView(ext!.data.buffer, ext!.data.byteOffset, ext!.data.byteLength);
  t.equal(v.getUint32(4, true), 32, 'its header has the CO-RE part');
  t.ok(v.getUint32(28, true) > 4, 'core_relo records');
  t.equal(parseBtf(readObject(obj.object).section('.BTF')!.data).types.filter((x) => x.kind === Kind.STRUCT && x.name === 'file').length, 1);
});
