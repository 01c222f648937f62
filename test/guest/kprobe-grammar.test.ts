// Inside the guest: the grammar's kprobe-only rules against the 6.1 kernel's
// kprobe_events. Each line is written on its own and removed at once; the
// kernel's answer (accepted or not, the readback, the error_log entry) is
// the expected value for `kprobe-bpf parse` (in-process: parseProbeCommands).
// Lines whose verdict needs the live kernel (does the symbol exist, is the
// offset an instruction boundary) are left out: the grammar leaves those to
// load time by design (README). Disagreements already reported and not yet
// fixed in grammar/ are listed in KNOWN with a todo; any other one fails.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { askKernel as askKernelOf, askUs as askUsOf, readEvents as readEventsOf, removeEventLine as removeEventLineOf, sameAnswer, type Answer } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { dynamicEventsSkipReason } from './ftrace.js';
import { readKallsyms } from './kdiff.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const EVENTS = `${TRACEFS}/kprobe_events`;
const G = 'kbgk';

const readEvents = () => readEventsOf(EVENTS);
const removeEventLine = (line: string) => removeEventLineOf(EVENTS, line);
// error_log is emptied before each line: picking the line's entry by
// timestamp (as the host uprobe test does) missed an entry now and then here.
const askKernel = (line: string) => askKernelOf(EVENTS, line, true);
const askUs = (line: string) => askUsOf(line, { tracer: 'kprobe' });

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

interface Disagreement { line: string; kernel: Answer; ours: Answer; text: string }

/**
 * Disagreements found here and reported, not fixed: grammar/ belongs to its
 * owner, and most are 6.1 behaving like 6.1 where the grammar follows newer
 * kernels (the host runs 6.18). Each is a todo so the suite stays green
 * while they stand; any other disagreement fails.
 */
const KNOWN: { why: string; match: (d: Disagreement) => boolean }[] = [
  {
    why: '6.1 reads a return probe back with its default maxactive (r10:) where none was given; newer kernels print r:',
    match: (d) => d.kernel.accepted && d.ours.accepted && JSON.stringify(d.kernel.readback) === JSON.stringify(d.ours.readback.map((l) => l.replace(/^r:/, 'r10:'))),
  },
  {
    why: 'grammar: the kernel (6.1 and, per trace_kprobe.c, later ones too) prints a MEMADDR place and the event name it generates with %p, hashed with a per-boot key; we print the address',
    match: (d) => d.kernel.accepted && d.ours.accepted && /0x00000000[0-9a-f]{8}/.test(d.kernel.readback.join()) && !/0x00000000/.test(d.ours.readback.join()),
  },
  { why: '6.1 says "Maxactive is not for kprobe"; newer kernels "Maxactive is only for function exit"', match: (d) => d.line.startsWith('p4:') },
  { why: 'removing an event that does not exist is a live-kernel check (ENOENT, nothing logged), not a grammar rule', match: (d) => d.line.startsWith('-:') },
  {
    why: '6.1 refuses $comm / \\"str" with a non-string type without an error_log entry; newer kernels log "$comm and immediate-string only accepts string type"',
    match: (d) => !d.kernel.accepted && d.kernel.log.length === 0 && d.ours.log.some((l) => l.includes('only accepts string type')),
  },
  {
    why: '6.1 says "Invalid $-variable specified" for $argN off a function entry, and refuses $argN on return probes; newer kernels allow it there and word the error differently',
    match: (d) => /\$arg1$/.test(d.line) && d.kernel.log.some((l) => l.includes('Invalid $-variable specified')),
  },
  {
    why: '@SYM is resolved when the kernel registers the probe: a symbol it cannot resolve ("@sym+", "@sym+x") fails there, a load-time check '
      + '(an empty name, "@" or "@-1", can never resolve: the grammar refuses it as the kernel does, BAD_PROBE_ADDR at the place)',
    match: (d) => / @nr_cpu_ids\+x?$/.test(d.line),
  },
  { why: '6.1 has no char type (added in 6.5)', match: (d) => /:char(\[\d+\])?$/.test(d.line) },
  {
    why: 'caret of "String accepts only memory argument" on a dereferenced array: 6.1 points at the type, 6.18 (checked on the host with uprobes) and we at its [N]',
    match: (d) => /\(%di\):(symstr|u8)\[\d+\]$/.test(d.line) && d.kernel.log.some((l) => l.includes('String accepts only memory argument')),
  },
  { why: 'bare names are BTF arguments in newer kernels ("BTF is not available"); 6.1 says "Invalid fetch argument"', match: (d) => d.line.endsWith(' y') },
  { why: '6.1 silently drops arguments past 128; newer kernels refuse with "Too many arguments are specified"', match: (d) => (d.line.match(/=%di/g) ?? []).length > 128 },
];

t.test('kprobe grammar: `parse` agrees with the 6.1 kernel\'s kprobe_events', { skip }, async (t) => {
  spawnSync('modprobe', ['binfmt_misc']); // for MOD:SYM lines
  const ks = readKallsyms();
  const getpid = ks.get('__x64_sys_getpid');
  if (!getpid) return t.fail('no __x64_sys_getpid in kallsyms');
  const lines = corpus(`0x${getpid.addr.toString(16)}`);
  const disagreements: Disagreement[] = [];
  let accepted = 0;
  await withKernelLock(() => {
    try {
      for (const line of lines) {
        const kernel = askKernel(line);
        const ours = askUs(line);
        if (kernel.accepted) accepted++;
        const same = sameAnswer(kernel, ours);
        if (!same) {
          disagreements.push({
            line,
            kernel,
            ours,
            text: [
              `line: ${JSON.stringify(line)}`,
              `  kernel: ${kernel.accepted ? 'accepted' : 'refused'} ${JSON.stringify(kernel.readback)}\n${kernel.log.join('\n')}`,
              `  ours:   ${ours.accepted ? 'accepted' : 'refused'} ${JSON.stringify(ours.readback)}\n${ours.log.join('\n')}`,
            ].join('\n'),
          });
        }
      }
    } finally {
      for (const l of readEvents()) if (l.includes(`:${G}`)) removeEventLine(l);
    }
  });
  t.comment(`kprobe grammar differential: ${lines.length - disagreements.length}/${lines.length} lines agree (${accepted} accepted by the kernel)`);
  const unexplained = disagreements.filter((d) => !KNOWN.some((k) => k.match(d)));
  for (const d of disagreements) {
    const known = KNOWN.find((k) => k.match(d));
    if (known) t.fail(`known disagreement: ${d.line.slice(0, 80)}`, { todo: known.why, found: d.text });
    else t.fail(`disagreement: ${d.line}`, { diagnostic: true, found: d.text });
  }
  t.comment(`${disagreements.length - unexplained.length} known (todo), ${unexplained.length} unexplained`);
  t.notOk(readEvents().some((l) => l.includes(`:${G}`)), 'nothing of ours left in kprobe_events');
});
