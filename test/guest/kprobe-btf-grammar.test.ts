// Inside the guest: BTF arguments (bare parameter names, $arg*, $argN,
// typed $retval, -> and . member chains, strings, %pd/%pD) against the guest
// kernel's own kprobe_events, line by line, with `parse` under the guest
// kernel's rules reading the guest's own /sys/kernel/btf/vmlinux (our BTF
// reader, in the guest). The lines are generated from that BTF: each probed
// function's parameters, and the members of the structs they point to. On
// 6.12 they are judged as BTF arguments; on 6.1 (no BTF arguments) the same
// lines must be refused, or accepted, exactly as 6.1 does.
//
// One disagreement is the kernel's, not ours: 6.12 reports an error that
// comes after a member chain's last field (":string" on a member that is no
// string, say) at ctx->offset plus a pointer difference with NULL
// (parse_btf_field: `ctx->offset += next - fieldname` with next == NULL), so
// its caret is no position. There the message and command must agree and the
// caret is not judged; `parse` marks such an error caretUnknown.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { Kind } from '../../bpf/btf.js';
import { runningKernelBtf, type KernelBtf } from '../../bpf/btf-kernel.js';
import { kernelRules } from '../../grammar/index.js';
import { diffLines, judgeDisagreements, readEvents as readEventsOf } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { dynamicEventsSkipReason } from './ftrace.js';
import { readKallsyms } from './kdiff.js';
import { membersOf } from './btf-members.js';
import { probeOffset } from './kprobe-site.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const EVENTS = `${TRACEFS}/kprobe_events`;
const G = 'kbtf';

/**
 * Functions with BTF prototypes of every shape the rules tell apart: ssize_t
 * (signed) and long returns, a void one, pointer returns, struct pointers,
 * char *, size_t, enums, no parameters. Only those the guest has are used.
 */
const FUNCTIONS = ['vfs_read', 'ksys_read', 'do_sys_openat2', 'do_exit', 'getname', 'd_path', 'wake_up_process', 'schedule', 'kfree'];

const MEMBERS_PER_STRUCT = 8;

/** The generated lines for one function. */
function linesFor(btf: KernelBtf, f: string): string[] {
  const proto = btf.funcProto(f);
  const p = (args: string) => `p:${G}/a ${f} ${args}`;
  const r = (args: string) => `r:${G}/a ${f} ${args}`;
  const out = [
    p('$arg*'), r('$arg*'), p('$arg* $arg*'), p('x=$arg*'), p('$arg*:x32'), `p:${G}/a ${f}+4 $arg*`,
    p('$arg1'), p('$arg1:x32'), p('$arg1x'), p('$arg0'), p('$arg1 $arg1'), p('x=$arg1'), p('+0($arg1)'), r('$arg1'),
    p('$arg2'), p('$arg3:s32'), p('$arg5'), p('$arg9 $arg1'),
    r('$retval'), r('$retval:x64'), r('x=$retval'), r('$retvalx'), r('$retval->x'), r('$retval.x'),
    r('$retval-x'), r('+0($retval)'), r('$retval:string'), r('$retval $retval'),
    p('nosuch'), r('nosuch'), p('%di nosuch'), p('nosuch->x'),
  ];
  if (!proto) return out;
  const params = proto.params.filter((q) => q.name !== '');
  for (const [i, q] of params.entries()) {
    const n = q.name;
    out.push(
      p(n), r(n), p(`${n}:x8`), p(`${n}:string`), p(`${n}:ustring`), p(`v=${n}`),
      p(`${n} ${n}`), p(`+0(${n})`), p(`${n}.x`), p(`${n}-x`), p(`${n}->nosuch`),
      `p:${G}/a ${f}+4 ${n}`, p(`${n}:%pd`), p(`${n}:%pD`), r(`${n} $retval`), p(`$arg${i + 1} ${n}`),
    );
    for (const m of membersOf(btf, q.type).slice(0, MEMBERS_PER_STRUCT)) {
      out.push(p(`${n}->${m.name}`));
      if (m.kind === Kind.STRUCT || m.kind === Kind.UNION) out.push(p(`${n}->${m.name}->x`));
      if (m.kind === Kind.ARRAY || m.kind === Kind.PTR || m.kind === Kind.INT) out.push(p(`${n}->${m.name}:string`));
      if (m.pointee !== undefined) {
        for (const mm of membersOf(btf, m.pointee).slice(0, 2)) out.push(p(`${n}->${m.name}->${mm.name}`));
      }
    }
  }
  return out;
}

/** Hand-written chains through anonymous unions, char arrays, bitfields and strings. */
const CHAINS = [
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.name:string',
  'p:kbtf/a vfs_read name=file->f_path.dentry->d_name.name:string',
  'p:kbtf/a vfs_read file->f_path.dentry->d_iname:string',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.name',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.len',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.hash_len',
  'p:kbtf/a vfs_read file->f_path.mnt->mnt_flags',
  'p:kbtf/a vfs_read file->f_inode->i_ino file->f_inode->i_mode',
  'p:kbtf/a vfs_read file->f_path->dentry',
  'p:kbtf/a vfs_read file->f_path.nosuch',
  'p:kbtf/a vfs_read file->f_path.dentry->nosuch',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.name:ustring',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.name:x8',
  'p:kbtf/a vfs_read file->f_flags:string',
  'p:kbtf/a vfs_read file->f_flags:b3@0/32',
  'p:kbtf/a vfs_read file->f_pos:symstr',
  'p:kbtf/a vfs_read buf:string count pos->x',
  'p:kbtf/a vfs_read +0(file->f_path.dentry)',
  'p:kbtf/a vfs_read file->f_path.dentry->d_name.name:string[2]',
  'r:kbtf/a vfs_read file->f_path.dentry->d_name.name:string $retval',
  'p:kbtf/a vfs_read file:%pD buf count',
  'p:kbtf/a vfs_read f=file:%pD d=file->f_path.dentry:%pd',
  'p:kbtf/a vfs_read file->f_path.dentry:%pd',
  'p:kbtf/a wake_up_process p->comm:string p->pid p->tgid',
  'p:kbtf/a wake_up_process p->comm',
  'p:kbtf/a wake_up_process p->sched_reset_on_fork p->sched_contributes_to_load',
  'p:kbtf/a wake_up_process p->in_execve p->in_iowait',
  'p:kbtf/a wake_up_process p->__state p->flags p->prio',
  'p:kbtf/a wake_up_process p->real_parent->pid p->real_parent->comm:string',
  'p:kbtf/a wake_up_process p->mm->mmap_base p->mm->pgd',
  'p:kbtf/a wake_up_process p->se.vruntime p->se.load.weight',
  'p:kbtf/a wake_up_process p->se->vruntime',
  'p:kbtf/a wake_up_process p->signal->rlim',
  'r:kbtf/a getname $retval->name:string $retval->refcnt',
  'r:kbtf/a getname $retval->name $retval->uptr:ustring',
  'r:kbtf/a getname $retval->nosuch',
  'r:kbtf/a getname $retval.name',
  'r:kbtf/a d_path $retval:string',
  'r:kbtf/a d_path $retval:ustring',
  'r:kbtf/a do_sys_openat2 $retval $arg*',
  'r:kbtf/a do_sys_openat2 how->flags how->mode $retval',
  'p:kbtf/a do_sys_openat2 how->flags how->mode how->resolve filename:string',
  'p:kbtf/a do_sys_openat2 how.flags',
  'r:kbtf/a do_exit $retval',
  'r:kbtf/a do_exit code',
  'p:kbtf/a do_exit code $arg1',
  'r:kbtf/a schedule $retval',
  'p:kbtf/a schedule $arg1',
  'p:kbtf/a schedule x',
  'p:kbtf/a ksys_read fd buf:string count',
  `p:kbtf/a vfs_read ${'a'.repeat(40)}`,
  `p:kbtf/a vfs_read ${'a'.repeat(64)}`,
  'p:kbtf/a vfs_read common_pid',
  'p:kbtf/a vfs_read file __probe_ip=count',
  'p:kbtf/a vfs_read count:b4@2/64',
  'p:kbtf/a vfs_read count:char',
  'p:kbtf/a vfs_read $arg1:string',
  'p:kbtf/a vfs_read $arg2:string $arg2:ustring',
  'p:kbtf/a binfmt_misc:load_misc_binary bprm',
];

/** Every line, for the functions the guest has (kallsyms) ... deduplicated, in order. */
function corpus(btf: KernelBtf | undefined, have: (f: string) => boolean): string[] {
  const lines = FUNCTIONS.filter(have).flatMap((f) => (btf ? linesFor(btf, f) : []));
  return [...new Set([...lines, ...CHAINS.filter((l) => have(l.split(' ')[1]!.replace(/\+.*$/, '')))])];
}

t.test('BTF arguments: `parse` with the guest kernel\'s rules and BTF agrees with its kprobe_events', { skip }, async (t) => {
  spawnSync('modprobe', ['binfmt_misc']); // for the MOD:SYM line
  const ks = readKallsyms();
  const btf = runningKernelBtf();
  const rules = kernelRules(release()).probe;
  if (rules.btfArgs && !btf) return t.fail(`${release()} has BTF arguments but no /sys/kernel/btf/vmlinux`);
  // 6.1 has no BTF arguments: the lines still come from BTF when the guest has it, else from the host's names only
  const lines = corpus(btf, (f) => f.includes(':') || f.startsWith('0x') || ks.has(f));
  t.ok(lines.length >= 300, `${lines.length} lines generated`);
  // which probed functions start with ENDBR (SYM+4 is then their entry on an IBT kernel): the kernel's kprobes/list says
  const places = [...new Set(lines.map((l) => l.split(' ')[1]!.replace(/[+%].*$/, '')).filter((f) => !f.includes(':')))];
  const endbr = await withKernelLock(() => new Set(places.filter((f) => probeOffset(G, f) === '0x4')));
  t.comment(`functions starting with ENDBR: ${[...endbr].join(' ') || 'none'}`);
  const parse = { tracer: 'kprobe' as const, rules, endbr: (s: string) => endbr.has(s) };
  const run = await withKernelLock(() => diffLines(EVENTS, lines, { parse, clearLog: true, ours: (l) => l.includes(`:${G}/`) }));
  t.comment(`BTF argument differential, rules of ${rules.version} (${release()}): ${lines.length - run.disagreements.length}/${lines.length} lines agree (${run.accepted} accepted by the kernel)`);
  const unknownCarets = judgeDisagreements(t, run, { tracer: 'kprobe', rules });
  t.comment(`${unknownCarets} errors after a member chain (caret not judged)`);
  t.notOk(readEventsOf(EVENTS).some((l) => l.includes(`:${G}/`)), 'nothing of ours left in kprobe_events');
});

/** The corpus as generated from this machine's BTF (for a dry run of `parse` outside the guest). */
export const corpusHere = (have: (f: string) => boolean = () => true): string[] => corpus(runningKernelBtf(), have);
