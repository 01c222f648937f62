// fprobe (f) and tracepoint probe (t) lines as 6.12 reads them
// (kernel/trace/trace_fprobe.c __trace_fprobe_create and
// parse_symbol_and_return): the readback of dynamic_events, and every refusal
// with its message and caret; 6.1 has no such lines (a bare EINVAL, nothing
// logged). BTF arguments on f and t events (bare names, $arg*, $argN renamed,
// member chains, typed $retval, %pd/%pD) are read against this machine's own
// BTF. The 6.12 guest judges the same lines in test/guest/fprobe-events.test.ts.
import t from 'tap';
import { existsSync } from 'node:fs';
import { VMLINUX_BTF } from '../../bpf/btf-kernel.js';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, type ParseOptions, type ProbeDefinition } from '../../grammar/index.js';

const rules612 = kernelRules('6.12').probe;
const rules61 = kernelRules('6.1').probe;
/** Parsed as on a kernel without BTF for the function (or without BTF at all). */
const noBtf: ParseOptions = { btf: null };

const readback = (line: string, rules = rules612, opts: ParseOptions = {}): string => {
  const [cmd] = parseProbeCommands(line, { rules, ...opts }).commands;
  return formatProbeCommand(cmd!);
};

function refusal(line: string, rules = rules612, opts: ParseOptions = {}): ProbeSyntaxError {
  try {
    parseProbeCommands(line, { rules, ...opts });
  } catch (e) {
    if (e instanceof ProbeSyntaxError) return e;
    throw e;
  }
  throw new Error(`accepted: ${line}`);
}

t.test('f and t lines read back as dynamic_events shows them', async (t) => {
  const cases: [string, string][] = [
    ['f vfs_read', 'f:fprobes/vfs_read__entry vfs_read'],
    ['f vfs_read%return', 'f:fprobes/vfs_read__exit vfs_read%return'],
    // any argument holding $retval (not followed by an identifier character) makes an exit probe
    ['f vfs_read $retval', 'f:fprobes/vfs_read__exit vfs_read%return arg1=$retval'],
    ['f vfs_read x=+0($retval):u8', 'f:fprobes/vfs_read__exit vfs_read%return x=+0($retval):u8'],
    ['f:grp/ vfs_read', 'f:grp/vfs_read__entry vfs_read'],
    ['f8 vfs_read%return', 'f8:fprobes/vfs_read__exit vfs_read%return'],
    ['f0x10:a/b vfs_read%return', 'f16:a/b vfs_read%return'],
    // sanitize_event_name in 6.12 also turns '*' into '_'
    ['f vfs.read*x', 'f:fprobes/vfs_read_x__entry vfs.read*x'],
    ['t sched_switch', 't:tracepoints/sched_switch sched_switch'],
    ['t 9p_client_req', 't:tracepoints/_9p_client_req 9p_client_req'],
    ['t:my/sw sched_switch', 't:my/sw sched_switch'],
    // an unknown tracepoint is taken as a module's, armed when it loads (CONFIG_MODULES)
    ['t no_such_tracepoint', 't:tracepoints/no_such_tracepoint no_such_tracepoint'],
    // a number is ftrace's function index (set_ftrace_filter's), which the 6.12 guest accepts
    ['f 1234', 'f:fprobes/1234__entry 1234'],
  ];
  for (const [line, want] of cases) t.equal(readback(line), want, line);
});

t.test('without the function\'s BTF, $argN is read as written and $arg* is refused', async (t) => {
  t.equal(readback('f:grp/ev vfs_read $arg1 c=$comm', rules612, noBtf), 'f:grp/ev vfs_read arg1=$arg1 c=$comm');
  t.equal(readback('t sched_switch $arg1 p=+8($arg2):x32', rules612, noBtf), 't:tracepoints/sched_switch sched_switch arg1=$arg1 p=+8($arg2):x32');
  // kernel (6.12): traceprobe_expand_meta_args logs NOSUP_BTFARG and returns no error, so `$arg*` is
  // then parsed as a $-variable: two entries
  const e = refusal('f vfs_read $arg*', rules612, noBtf);
  t.same(e.errorLogEntries().map((l) => l.split('\n')[0]), ['trace_fprobe: error: BTF is not available or not supported', 'trace_fprobe: error: Invalid $-valiable specified']);
  t.equal(e.caretColumn, 11);
  // a bare name needs BTF
  t.equal(refusal('f vfs_read file', rules612, noBtf).message, 'BTF is not available or not supported');
});

t.test('the definition says where the probe sits', async (t) => {
  const [f] = parseProbeCommands('f ext4_readdir%return', { rules: rules612 }).commands;
  t.match(f, { tracer: 'fprobe', isReturn: true, point: { kind: 'function', symbol: 'ext4_readdir' } });
  const [tp] = parseProbeCommands('t sched_switch', { rules: rules612 }).commands;
  t.match(tp, { tracer: 'tprobe', isReturn: false, point: { kind: 'tracepoint', name: 'sched_switch' } });
});

t.test('refusals: message, caret, error_log location', async (t) => {
  const cases: [string, string, number][] = [
    // [line, message, caret column]
    ['f5 vfs_read', 'Maxactive is only for function exit', 1],
    // ftrace_set_filter reads MOD:SYM as a function and a filter command (6.12 guest, module-btf.test.ts)
    ['f ext4:ext4_readdir', 'Failed to register probe event', 2],
    ['t5 sched_switch', 'Maxactive is only for function exit', 1],
    ['f0 vfs_read%return', 'Invalid maxactive number', 1],
    ['f5000 vfs_read%return', 'Maxactive is too big', 1],
    ['f vfs_read%ret', 'Invalid probed address suffix', 10],
    ['t sched_switch%return', 'Invalid probed address suffix', 14],
    ['t sched.switch', 'Invalid character in tracepoint name', 7],
    ['t sched_switch a=$retval', '$retval is not available on probe', 17],
    // kernel: BAD_VAR is logged, then the argument has no fetch op: BAD_FETCH_ARG, two entries
    ['f vfs_read %di', 'Invalid fetch argument', 11],
    ['f vfs_read +0(%si)', 'Invalid fetch argument', 14],
    // ftrace_set_filter matches no function: -EINVAL from registering
    ['f vfs_read+4', 'Failed to register probe event', 2],
    ['f:bad-name vfs_read', 'Event name must follow the same rules as C identifiers', 2],
  ];
  for (const [line, message, caret] of cases) {
    const e = refusal(line);
    t.equal(e.subsystem, 'trace_fprobe', `${line}: location`);
    t.equal(e.message, message, `${line}: message`);
    t.equal(e.caretColumn, caret, `${line}: caret`);
    t.ok(e.logged, `${line}: logged`);
  }
});

t.test('a register: two error_log entries, as the kernel logs them', async (t) => {
  const e = refusal('f vfs_read %di');
  t.same(e.errorLogEntries(), [
    `trace_fprobe: error: Invalid $-valiable specified\n  Command: f vfs_read %di\n${' '.repeat(11 + 11)}^`,
    `trace_fprobe: error: Invalid fetch argument\n  Command: f vfs_read %di\n${' '.repeat(11 + 11)}^`,
  ]);
  t.equal(e.toErrorLog(), e.errorLogEntries().join('\n'), 'the CLI prints both');
});

t.test('6.1 has no f or t lines: a bare EINVAL, nothing in error_log', async (t) => {
  for (const line of ['f vfs_read', 't sched_switch', 'f:a/b vfs_read%return $retval']) {
    const e = refusal(line, rules61);
    t.notOk(e.logged, line);
  }
});

t.test('$retval inside a longer name does not make an exit probe', async (t) => {
  // kernel: strstr "$retval" then !isalnum && != '_' on the next character, so the probe stays an entry,
  // where parse_probe_vars's str_has_prefix("retval") refuses it
  const e = refusal('f vfs_read $retvalx');
  t.equal(e.message, '$retval is not available on probe');
  t.equal(readback('f vfs_read $retval_x=$comm'.replace('$retval_x=', 'r=')), 'f:fprobes/vfs_read__entry vfs_read r=$comm');
});

const btfSkip = existsSync(VMLINUX_BTF) ? undefined : `no ${VMLINUX_BTF}`;
const def = (line: string): ProbeDefinition => parseProbeCommands(line, { rules: rules612 }).commands[0] as ProbeDefinition;

t.test('BTF arguments on f events: the same expansion, naming and typing as a kprobe at entry or exit', { skip: btfSkip }, async (t) => {
  const cases: [string, string][] = [
    // 6.12 renames a bare $argN after the function's parameter (trace_fprobe.c: traceprobe_expand_meta_args)
    ['f vfs_read $arg1', 'f:fprobes/vfs_read__entry vfs_read file=file'],
    ['f vfs_read file count', 'f:fprobes/vfs_read__entry vfs_read file=file count=count'],
    ['f vfs_read $arg*', 'f:fprobes/vfs_read__entry vfs_read file=file buf=buf count=count pos=pos'],
    ['f vfs_read $arg1 $arg3:x32', 'f:fprobes/vfs_read__entry vfs_read file=file count=count:x32'],
    // the kernel expands a word that starts with `$arg*` whole, whatever follows the star
    ['f vfs_read $arg*:x32', 'f:fprobes/vfs_read__entry vfs_read file=file buf=buf count=count pos=pos'],
    ['f vfs_read x=$arg1 +0($arg1)', 'f:fprobes/vfs_read__entry vfs_read x=$arg1 arg2=+0($arg1)'],
    // entry arguments at the exit (6.9), and $retval making the exit
    ['f vfs_read%return count $retval', 'f:fprobes/vfs_read__exit vfs_read%return count=count arg2=$retval'],
    ['f vfs_read $arg* $retval', 'f:fprobes/vfs_read__exit vfs_read%return file=file buf=buf count=count pos=pos arg5=$retval'],
    ['f vfs_read file->f_path.dentry->d_name.name:string', 'f:fprobes/vfs_read__entry vfs_read arg1=file->f_path.dentry->d_name.name:string'],
    ['f vfs_read buf:ustring', 'f:fprobes/vfs_read__entry vfs_read buf=buf:ustring'],
  ];
  for (const [line, want] of cases) t.equal(readback(line), want, line);
  const d = def('f vfs_read%return $retval count file->f_pos');
  t.same(d.args.map((a) => [a.name, a.type.base, a.type.btfTypeName]), [['arg1', 's64', 'ssize_t'], ['count', 'u64', 'size_t'], ['arg3', 's64', 'loff_t']],
    'typed from BTF: ssize_t signed, size_t unsigned');
  t.same(d.args[1]!.fetch, { kind: 'arg', index: 3, atEntry: true }, 'an entry argument at the exit (fexit sees it in its slot)');
  t.same(def('f vfs_read count').args[0]!.fetch, { kind: 'arg', index: 3 }, 'count is the third argument');
  const chain = def('f vfs_read file->f_pos').args[0]!.fetch;
  t.match(chain, { kind: 'deref', member: { root: 'file', path: ['f_pos'] }, inner: { kind: 'arg', index: 1 } }, 'a member read annotated for CO-RE');
  // %pd/%pD (6.10) on an fprobe: the kernel's textual rewrite, offsets from the struct dentry and struct file of this BTF
  const pD = def('f vfs_read file:%pD').args[0]!;
  t.match(pD.source, /^\+0x0\(\+0x[0-9a-f]+\(\+0x[0-9a-f]+\(file\)\)\):string$/, `%pD: ${pD.source}`);
  t.equal(pD.type.base, 'string');
});

t.test('BTF arguments on t events: the tracepoint\'s probe stub names them, its __data hidden', { skip: btfSkip }, async (t) => {
  const cases: [string, string][] = [
    ['t sched_switch $arg*', 't:tracepoints/sched_switch sched_switch preempt=preempt prev=prev next=next prev_state=prev_state'],
    ['t sched_switch $arg2', 't:tracepoints/sched_switch sched_switch prev=prev'],
    ['t sched_switch prev->pid next->pid', 't:tracepoints/sched_switch sched_switch arg1=prev->pid arg2=next->pid'],
    ['t sched_switch prev_pid=prev->pid next_comm=next->comm:string', 't:tracepoints/sched_switch sched_switch prev_pid=prev->pid next_comm=next->comm:string'],
    ['t sched_switch p=$arg2', 't:tracepoints/sched_switch sched_switch p=$arg2'],
  ];
  for (const [line, want] of cases) t.equal(readback(line), want, line);
  const d = def('t sched_switch preempt prev p=$arg2 prev->pid');
  t.same(d.args.map((a) => [a.name, a.type.base, a.type.btfTypeName]), [['preempt', 'u8', 'bool'], ['prev', 'x64', 'struct task_struct *'], ['p', 'x64', undefined], ['arg4', 's32', 'pid_t']]);
  // one convention: a parameter by name and the same $argN read the same context slot (counted after __data)
  t.same(d.args[1]!.fetch, { kind: 'arg', index: 2 }, 'prev is the second visible argument');
  t.same(d.args[2]!.fetch, { kind: 'arg', index: 2 }, '$arg2 is the same');
  t.match(d.args[3]!.fetch, { kind: 'deref', member: { root: 'task_struct', path: ['pid'] }, inner: { kind: 'arg', index: 2 } });
});

t.test('BTF argument refusals on f and t events: message and caret', { skip: btfSkip }, async (t) => {
  const cases: [string, string, number][] = [
    ['f do_exit $retval', 'This function returns \'void\' type', 10],
    ['f vfs_read nosuch', 'This variable is not found at this probe point', 11],
    ['f vfs_read $arg9', 'This variable is not found at this probe point', 11],
    ['f vfs_read $arg* $arg*', '$arg* can be used only once in the parameters', 17],
    ['f vfs_read file.f_pos', 'Non pointer structure/union argument is not supported.', 16],
    ['f vfs_read file-f_pos', 'Failed to parse single hyphen. Forgot \'>\'?', 15],
    ['f vfs_read file->nosuch', 'This field is not found.', 17],
    ['f vfs_read count->x', 'This is not a pointer to union/structure.', 18],
    ['f vfs_read file:string', 'This type does not fit for string.', 11],
    ['f vfs_read%return $retval.x', 'Non pointer structure/union argument is not supported.', 26],
    ['t sched_switch x', 'This variable is not found at this probe point', 15],
    ['t sched_switch $arg5', 'This variable is not found at this probe point', 15],
    // $arg0: params[-1] of a tracepoint is its hidden __data, a name the visible parameters do not have
    ['t sched_switch $arg0', 'This variable is not found at this probe point', 15],
    ['t sched_switch prev.pid', 'Non pointer structure/union argument is not supported.', 20],
  ];
  for (const [line, message, caret] of cases) {
    const e = refusal(line);
    t.equal(e.subsystem, 'trace_fprobe', `${line}: location`);
    t.equal(e.message, message, `${line}: message`);
    t.equal(e.caretColumn, caret, `${line}: caret`);
  }
});
