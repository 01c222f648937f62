// Inside the guest: the grammar's kprobe-only rules against the guest
// kernel's kprobe_events, with the rules of the guest kernel's own release
// (grammar/kernel-rules/). Each line is written on its own and removed at once; the
// kernel's answer (accepted or not, the readback, the error_log entry) is
// the expected value for `kprobe-bpf parse` (in-process: parseProbeCommands).
// Lines whose verdict needs the live kernel (does the symbol exist, is the
// offset an instruction boundary) are left out: the grammar leaves those to
// load time by design (README). The lines of the corpus that still need it
// (removing an event that does not exist) are listed, answer for answer, in
// kprobe-grammar-known.json: each passes as checked at load time only while
// both answers stay exactly as recorded; any other disagreement fails, and so
// does an entry that no longer occurs. No line is a todo.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { kernelRules } from '../../grammar/index.js';
import {
  describeDisagreement, diffLines, readEvents as readEventsOf, sameAnswer, sortDisagreements, type Answer, type Disagreement, type KnownDisagreements,
} from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { dynamicEventsSkipReason } from './ftrace.js';
import { readKallsyms } from './kdiff.js';
import { probeOffset } from './kprobe-site.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const EVENTS = `${TRACEFS}/kprobe_events`;
const G = 'kbgk';
/** Stands for __x64_sys_getpid's address ("0x" and 16 hex digits) in the recorded lines and answers. */
const ADDRESS = '{getpid}';

/** Lines checked at load time, not by the grammar: the answers of both sides, exactly as seen. */
const LOAD_TIME = (JSON.parse(readFileSync(new URL('../../../test/guest/kprobe-grammar-known.json', import.meta.url), 'utf8')) as {
  loadTime: KnownDisagreements[];
}).loadTime;
/**
 * Debian's 6.12 guest (bookworm-backports): what needs the function's BTF
 * (BTF-named and BTF-checked $argN and bare names, issue 12), recorded answer
 * for answer; each is a todo only while both answers stay exactly so.
 */
const ON_612 = release().startsWith('6.12.');
const KNOWN_612 = ON_612 ? (JSON.parse(readFileSync(new URL('../../../test/guest/kprobe-grammar-known-6.12.json', import.meta.url), 'utf8')) as {
  known: KnownDisagreements[];
}).known : [];

/** ~150 kprobe lines: places, names, maxactive, %return, and every kprobe-only fetch form, valid and not. */
function corpus(getpid: string): string[] {
  const f = 'do_sys_openat2';
  const p = (args: string) => `p:${G}/a ${f} ${args}`;
  const r = (args: string) => `r:${G}/a ${f} ${args}`;
  const many = (n: number) => Array.from({ length: n }, (_, i) => `a${i}=%di`).join(' ');
  const nest = (n: number) => '+0('.repeat(n) + '%di' + ')'.repeat(n);
  return [
    // places
    `p:${G}/a ${f}`, `p:${G}/a ${f}+0`, `p:${G}/a ${getpid}`, `r:${G}/a ${getpid}`, `p:${G}/a ${f}%return`,
    `p:${G}/a ${f}+0%return`, `p:${G}/a ${f}%retur`, `p:${G}/a ${f}%return+4`, `r:${G}/a ${f}%return`,
    `r:${G}/a ${f}+0`, `p:${G}/a binfmt_misc:load_misc_binary`, `r:${G}/a binfmt_misc:load_misc_binary`,
    `p:${G}/a binfmt_misc:load_misc_binary+0`, `p:${G}/a ${f}+0x0`, `p:${G}/a ${f}+zz`, `p:${G}/a ${f}-4`,
    `p:${G}/a`, `p:${G}/a 0x`, `p:${G}/a 12345zz`, `p:${G}/a ${f} `, `p:${G}/a ${f}  %di`,
    // names and groups
    `p ${f}`, `r ${f}`, `p ${getpid}`, `r ${getpid}`, `p ${f}%return`, `p binfmt_misc:load_misc_binary`, `r4 ${f}`,
    `p:${G}.a ${f}`, `p:${G}/ ${f}`, `p:${G}. ${f}`, `p:/a ${f}`, `p:a ${f}`, `p: ${f}`, `p:${G}/1a ${f}`,
    `p:${G}/a-b ${f}`, `p:${G}-x/a ${f}`, `p:${G}/a/b ${f}`, `p:${G}/${'e'.repeat(63)} ${f}`, `p:${G}/${'e'.repeat(64)} ${f}`,
    `p:${'g'.repeat(63)}/a ${f}`, `p:${'g'.repeat(64)}/a ${f}`, `p:${G}/a.b ${f}`, `x:${G}/a ${f}`, `P:${G}/a ${f}`,
    // maxactive
    `r1:${G}/a ${f}`, `r4096:${G}/a ${f}`, `r4097:${G}/a ${f}`, `r0:${G}/a ${f}`, `r01:${G}/a ${f}`, `rx:${G}/a ${f}`,
    `p4:${G}/a ${f}`, `r4:${G}/a ${f}+0`, `r99999999999:${G}/a ${f}`,
    // removal
    `-:${G}/nosuchevent`, `-:${G}/`, '-:', `-${G}/a`,
    // registers and variables
    p('%di'), p('%ax %bx %cx %dx %si %di %bp %sp %ip %flags %r8 %r15 %orig_ax %cs %ss'), p('%r16'), p('%eax'), p('%'),
    p('$arg1'), p('$arg0'), p('$arg6 $arg7 $arg99'), p('$argx'), p('$arg'), p('$stack'), p('$stack0'), p('$stack999'),
    p('$stackx'), p('$retval'), r('$retval'), r('$retval:s32 $retval:u8'), p('$comm'), p('$comm:string'), p('$comm:u32'),
    p('$comm:symstr'), p('$foo'), p('$'), `p:${G}/a ${f}+5 $arg1`, `p:${G}/a ${getpid} $arg1`, r('$arg1'), r('$stack1'),
    // @SYM and @ADDR (kprobes only)
    p('@nr_cpu_ids'), p('@nr_cpu_ids+4'), p('@nr_cpu_ids-4'), p('@nr_cpu_ids:u32'), p('@nr_cpu_ids:string'),
    p('@0x10'), p('@0x10:u8'), p('@+10'), p('@'), p('@-1'), p('@nr_cpu_ids+'), p('@nr_cpu_ids+x'),
    p('@binfmt_misc:load_misc_binary'),
    // immediates
    p('\\42'), p('\\-1'), p('\\0x10:x8'), p('\\"str"'), p('\\"str":string'), p('\\"str":u32'), p('\\"str'), p('\\x'),
    p('\\'), p('\\"a b"'), p('\\42:string'), p('\\42:symbol'),
    // dereferences
    p('+0(%di)'), p('-8(%sp):u32'), p('+u0(%di)'), p('+u0(%di):string'), p('+0(%di):ustring'), p('+u0(%di):ustring'), p('+u0(%di):u8[4]'), p('+u0(%di):string[2]'),
    p(nest(14)), p(nest(15)), p(nest(16)), p('+0(%di'), p('+(%di)'), p('+0x10(%di)'), p('+0($stack)'), p('+0($arg1)'),
    p('+0(@nr_cpu_ids)'), p('+0($comm)'), p('+0(\\42)'), p('+0($retval)'), r('+0($retval):string'), p('+08(%di)'),
    // types
    p('%di:string'), p('%di:ustring'), p('%di:symbol'), p('%di:symstr'), p('+0(%di):symstr'), p('%di:x128'),
    p('%di:char'), p('%di:u'), p('%di:'), p('%di:b3@2/32'), p('%di:b33@0/32'), p('%di:b0@0/32'), p('%di:b1@32/32'),
    p('%di:b4@29/32'), p('%di:b8@0/8'), p('%di:b3@2/24'), p('%di:b3@/32'), p('%di:b3@2'),
    p('+0(%di):u8[64]'), p('+0(%di):u8[65]'), p('+0(%di):u8[0]'), p('+0(%di):u8[]'), p('+0(%di):string[2]'),
    p('+0(%di):symstr[2]'), p('+0(%di):symbol[2]'), p('+0(%di):char[3]'), p('%di:u8[2]'), p('$comm[2]'),
    p('+0(%di):b3@2/32[2]'), p('+0(%di):u8[2][2]'), p('+0(%di):ustring[2]'),
    // names of arguments
    p('x=%di x=%si'), p('%di arg1=%si'), p('common_pid=%di'), p('__probe_ip=%di'), p(`${'n'.repeat(32)}=%di`),
    p(`${'n'.repeat(33)}=%di`), p('1x=%di'), p('x-y=%di'), p('=%di'), p('x=%di y'), p('ip=%ip'),
    p(`x=+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(%di)))))))))))):string`),
    // argument counts and lengths
    p(many(128)), p(many(129)), p(`x=+0(${'+0('.repeat(10)}%di${')'.repeat(10)})`),
  ];
}

/**
 * The kernel prints a MEMADDR place, and the event name it generates from
 * it, with "0x%p": the address hashed with a per-boot secret key (siphash,
 * kept 32 bits wide on 64-bit, lib/vsprintf.c ptr_to_id) unless the kernel was
 * booted with no_hash_pointers. That cannot be reproduced, so kprobe-bpf
 * prints the address itself, as that kernel prints it with no_hash_pointers.
 * What can be checked: the kernel's hashed form has that shape and is one
 * value in both places; with it put back to the address, the answers agree.
 */
const HASHED = /0x00000000[0-9a-f]{8}\b/g;
function unhashAddressPlace(kernel: Answer, address: string): { answer: Answer; hashes: string[] } {
  const hashes = [...new Set(kernel.readback.flatMap((l) => l.match(HASHED) ?? []))];
  return { answer: { ...kernel, readback: kernel.readback.map((l) => l.replace(HASHED, address)) }, hashes };
}

t.test('kprobe grammar: `parse` with the guest kernel\'s rules agrees with its kprobe_events', { skip }, async (t) => {
  spawnSync('modprobe', ['binfmt_misc']); // for MOD:SYM lines
  const ks = readKallsyms();
  const getpid = ks.get('__x64_sys_getpid');
  if (!getpid) return t.fail('no __x64_sys_getpid in kallsyms');
  const address = `0x${getpid.addr.toString(16).padStart(16, '0')}`;
  const lines = corpus(address);
  const rules = kernelRules(release()).probe; // what `kprobe-bpf parse --kernel $(uname -r)` uses, and its default here
  const parse = { tracer: 'kprobe' as const, rules };
  let site: string | undefined;
  const run = await withKernelLock(() => {
    site = probeOffset(G, address);
    return diffLines(EVENTS, lines, { parse, clearLog: true, ours: (l) => l.includes(`:${G}`) });
  });
  // An IBT kernel moves a probe on an ENDBR function entry 4 bytes in and
  // reads that address back as the place, while a generated name keeps the
  // address given: two hashes. Which bytes the function starts with is the
  // live kernel's knowledge, asked from its kprobes/list, not the grammar's.
  const moved = site !== undefined && site !== '0x0';
  t.ok(site === '0x0' || site === '0x4', `kprobes/list puts a probe on ${address} at its function +${site}`);
  t.comment(`kprobe grammar differential, rules of ${rules.version} (${release()}): ${lines.length - run.disagreements.length}/${lines.length} lines agree (${run.accepted} accepted by the kernel)`);

  const at = (s: string) => s.replaceAll(ADDRESS, address);
  const atAnswer = (a: Answer): Answer => ({ ...a, readback: a.readback.map(at), log: a.log.map(at) });
  const record = LOAD_TIME.map((k) => ({ why: k.why, cases: k.cases.map((c) => ({ line: at(c.line), kernel: atAnswer(c.kernel), ours: atAnswer(c.ours) })) }));
  const rest: Disagreement[] = [];
  for (const d of run.disagreements) {
    if (!d.line.includes(address) || !d.kernel.accepted) { rest.push(d); continue; }
    const { answer, hashes } = unhashAddressPlace(d.kernel, address);
    const generatedName = !/^[pr][0-9]*:/.test(d.line);
    const expected = moved && generatedName ? 2 : 1;
    t.equal(hashes.length, expected, expected === 2
      ? `the kernel hashes two addresses, the place moved to +${site} (checked at load time: kprobes/list) and the address given in the name: ${d.line}`
      : `the kernel hashes the address one way in place and name: ${d.line}`, { readback: d.kernel.readback });
    const unhashed = { ...d, kernel: answer };
    if (sameAnswer(unhashed.kernel, unhashed.ours)) t.pass(`the same, the address unhashed: ${d.line}`);
    else rest.push(unhashed);
  }
  t.ok(rest.length < run.disagreements.length, 'address places were compared with the kernel\'s hash put back');
  const sorted = sortDisagreements(rest, record);
  for (const { found, why } of sorted.known) t.pass(`checked at load time, not by the grammar: ${found.line} (${why})`);
  const todo = sortDisagreements(sorted.unexplained, KNOWN_612.map((k) => ({ why: k.why, cases: k.cases.map((c) => ({ line: at(c.line), kernel: atAnswer(c.kernel), ours: atAnswer(c.ours) })) })));
  for (const { found, why } of todo.known) t.fail(`known disagreement on ${release()}: ${found.line.slice(0, 80)}`, { todo: why, found: describeDisagreement(found) });
  for (const k of todo.unseen) t.fail(`a recorded ${release()} disagreement no longer occurs as recorded: ${k.line}`, { diagnostic: true, why: k.why });
  for (const d of todo.unexplained) {
    t.fail(`disagreement: ${d.line}`, { diagnostic: true, found: describeDisagreement(d), entry: JSON.stringify(d).replaceAll(address, ADDRESS) });
  }
  for (const k of sorted.unseen) t.fail(`a load-time line no longer occurs as recorded: ${k.line}`, { diagnostic: true, why: k.why });
  t.comment(`${sorted.known.length} checked at load time, ${todo.known.length} known (todo), ${todo.unexplained.length} unexplained, ${sorted.unseen.length} recorded but not seen`);
  t.notOk(readEventsOf(EVENTS).some((l) => l.includes(`:${G}`)), 'nothing of ours left in kprobe_events');
});
