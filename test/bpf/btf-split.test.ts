// Split (module) BTF readers judged by bpftool on real module BTF: this host
// publishes only vmlinux in /sys/kernel/btf, so the files are the 6.12 guest
// kernel's (build/vm612, `make vm612`): its vmlinux's .BTF and the .BTF
// sections of three of its modules, laid out as /sys/kernel/btf is, which is
// also what `--btf DIR` reads. The guest test (test/guest/module-btf.test.ts)
// runs the same judge on the guest's own /sys/kernel/btf. Also: kallsyms'
// module tags in load order, and `compile --btf DIR` of module functions.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kallsymsModulesOf, moduleLocator } from '../../bpf/btf-split-modules.js';
import { openKernelBtf } from '../../bpf/btf-kernel.js';
import { btfFunctionSlots } from '../../compiler/trampoline-btf.js';
import { bpftoolRaw } from './bpftool-raw.js';
import { BACKPORTS, readImages } from '../vm/images.js';
import { judgeModuleBtf } from './btf-split-judge.js';
import { scratchDir, toolSkipReason } from './tools.js';
import { CLI } from '../e2e/lib/runs.js';

const MODULES = [['binfmt_misc', 'fs/binfmt_misc'], ['9pnet', 'net/9p/9pnet'], ['9p', 'fs/9p/9p']] as const;
const images = readImages(BACKPORTS.manifest);
const skip = toolSkipReason('bpftool', 'objcopy', 'xz')
  ?? (images?.modules && existsSync(images.kernel) ? undefined : 'no 6.12 guest kernel (make vm612)');

/** A /sys/kernel/btf-like directory from the guest kernel's vmlinux and module files. */
function guestBtfDir(): string {
  const dir = join(scratchDir(), 'btf612');
  mkdirSync(dir, { recursive: true });
  execFileSync('objcopy', ['--dump-section', `.BTF=${join(dir, 'vmlinux')}`, images!.kernel, join(scratchDir(), 'vmlinux.tmp')]);
  for (const [name, path] of MODULES) {
    const ko = join(scratchDir(), `${name}.ko`);
    writeFileSync(ko, execFileSync('xz', ['-dc', join(images!.modules!, images!.release, 'kernel', `${path}.ko.xz`)], { maxBuffer: 1 << 28 }));
    execFileSync('objcopy', ['--dump-section', `.BTF=${join(dir, name)}`, ko, `${ko}.tmp`]);
  }
  return dir;
}

t.test('split BTF of a 6.12 kernel\'s modules against bpftool', { skip }, async (t) => {
  const dir = guestBtfDir();
  for (const [name] of MODULES) await t.test(name, async (t) => judgeModuleBtf(t, dir, name, { base: join(dir, 'vmlinux') }));
});

t.test('--btf DIR: a bare module function is found by the name in its strings; MOD:SYM and non-names in none', { skip }, async (t) => {
  const dir = guestBtfDir();
  const locator = moduleLocator(dir);
  t.same(locator.holders('p9_client_walk'), ['9pnet'], 'p9_client_walk: 9pnet');
  t.same(locator.holders('9pnet:p9_client_walk'), [], 'MOD:SYM: none');
  t.equal(locator.path('../vmlinux'), undefined, 'a module name is never a path');
  const btf = openKernelBtf(dir)!;
  t.equal(btf.funcProto('load_misc_binary')?.btf.module, 'binfmt_misc', 'load_misc_binary from binfmt_misc');
  t.equal(btf.funcProto('binfmt_misc:load_misc_binary'), undefined, 'binfmt_misc:load_misc_binary: no BTF entry, as 6.12 answers');
  // fexit's slots of a module function, from its module's split BTF: bpftool's parameter count (a pointer, a u16, a pointer, an int: one slot each)
  const raw = bpftoolRaw(join(dir, '9pnet'), join(dir, 'vmlinux'));
  const walk = [...raw.values()].find((r) => r.kind === 'FUNC' && r.name === 'p9_client_walk')!;
  const params = raw.get(Number(walk.attrs.type_id))!.items.length;
  const slots = btfFunctionSlots(dir);
  t.equal(slots.argSlots('p9_client_walk'), params, `p9_client_walk: ${params} slots`);
  t.equal(slots.argSlots('p9_client_walk', '9pnet'), params, '9pnet:p9_client_walk: the same, in the named module');
  t.equal(slots.argSlots('p9_client_walk', 'no_such_module'), undefined, 'a module without BTF: none');
  const model = slots.model?.('p9_client_walk');
  t.equal(model?.slots, params, 'a module function\'s trampoline model comes from its module\'s BTF (its kprobe moves to fentry)');
  t.same(model?.paramSlots, Array.from({ length: params }, (_, i) => i), 'one slot per parameter');
  t.equal(slots.model?.('p9_client_walk', 'no_such_module'), undefined, 'none in a module without BTF');
});

t.test('kallsyms module tags come back in module load order', async (t) => {
  // /proc/kallsyms walks the modules list from its head, where each load puts its module
  const text = Buffer.from([
    'ffffffff81000000 T core_fn',
    'ffffffffc0300000 t dup_fn\t[newer]',
    'ffffffffc0300010 t dup_fn_more\t[newer]',
    'ffffffffc0200000 t dup_fn\t[older]',
    'ffffffffc0200010 T only_fn\t[older]',
  ].join('\n') + '\n');
  t.same(kallsymsModulesOf(text, 'dup_fn'), ['newer', 'older'], 'as listed');
  t.same(kallsymsModulesOf(text, 'only_fn'), ['older']);
  t.same(kallsymsModulesOf(text, 'core_fn'), [], 'a core symbol has no tag');
  t.same(kallsymsModulesOf(text, 'dup'), [], 'whole names only');
  const here = readFileSync('/proc/kallsyms');
  t.same(kallsymsModulesOf(here, 'no_such_symbol_kprobe_bpf'), [], 'this machine: an unknown name has no module');
});

t.test('compile --btf DIR: a BTF-argument kprobe on a module function goes on the trampoline its module\'s BTF models', { skip }, async (t) => {
  const dir = guestBtfDir();
  const out = join(scratchDir(), 'module-kprobe.o');
  execFileSync(CLI, ['compile', '--btf', dir, '--kernel', '6.12', '-e', 'p:g/m load_misc_binary bprm->filename:string', '-e', 'r:g/r load_misc_binary $retval', '-e', 'p:g/raw load_misc_binary %di', '-o', out]);
  const sections = execFileSync('llvm-objdump', ['-h', out], { encoding: 'utf8' });
  t.match(sections, /\sfentry\/load_misc_binary\s/, 'the entry: fentry, found by libbpf in the module\'s BTF at load');
  t.match(sections, /\sfexit\/load_misc_binary\s/, 'the return: fexit');
  t.match(sections, /\skprobe\/load_misc_binary\s/, 'a register fetch keeps its kprobe');
});
