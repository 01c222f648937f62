// fprobe (f) and tracepoint probe (t) lines as 6.12 reads them
// (kernel/trace/trace_fprobe.c __trace_fprobe_create and
// parse_symbol_and_return): the readback of dynamic_events, and every refusal
// with its message and caret; 6.1 has no such lines (a bare EINVAL, nothing
// logged). The 6.12 guest judges the same lines in test/guest/fprobe-events.test.ts.
import t from 'tap';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError } from '../../grammar/index.js';

const rules612 = kernelRules('6.12').probe;
const rules61 = kernelRules('6.1').probe;

const readback = (line: string, rules = rules612): string => {
  const [cmd] = parseProbeCommands(line, { rules }).commands;
  return formatProbeCommand(cmd!);
};

function refusal(line: string, rules = rules612): ProbeSyntaxError {
  try {
    parseProbeCommands(line, { rules });
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
    ['f:grp/ev vfs_read $arg1 c=$comm', 'f:grp/ev vfs_read arg1=$arg1 c=$comm'],
    ['f:grp/ vfs_read', 'f:grp/vfs_read__entry vfs_read'],
    ['f8 vfs_read%return', 'f8:fprobes/vfs_read__exit vfs_read%return'],
    ['f0x10:a/b vfs_read%return', 'f16:a/b vfs_read%return'],
    ['f ext4:ext4_readdir', 'f:fprobes/ext4_ext4_readdir__entry ext4:ext4_readdir'],
    // sanitize_event_name in 6.12 also turns '*' into '_'
    ['f vfs.read*x', 'f:fprobes/vfs_read_x__entry vfs.read*x'],
    ['t sched_switch', 't:tracepoints/sched_switch sched_switch'],
    ['t sched_switch $arg1 p=+8($arg2):x32', 't:tracepoints/sched_switch sched_switch arg1=$arg1 p=+8($arg2):x32'],
    ['t 9p_client_req', 't:tracepoints/_9p_client_req 9p_client_req'],
    ['t:my/sw sched_switch', 't:my/sw sched_switch'],
    // an unknown tracepoint is taken as a module's, armed when it loads (CONFIG_MODULES)
    ['t no_such_tracepoint', 't:tracepoints/no_such_tracepoint no_such_tracepoint'],
    // a number is ftrace's function index (set_ftrace_filter's), which the 6.12 guest accepts
    ['f 1234', 'f:fprobes/1234__entry 1234'],
  ];
  for (const [line, want] of cases) t.equal(readback(line), want, line);
});

t.test('the definition says where the probe sits', async (t) => {
  const [f] = parseProbeCommands('f ext4:ext4_readdir%return', { rules: rules612 }).commands;
  t.match(f, { tracer: 'fprobe', isReturn: true, point: { kind: 'function', module: 'ext4', symbol: 'ext4_readdir' } });
  const [tp] = parseProbeCommands('t sched_switch', { rules: rules612 }).commands;
  t.match(tp, { tracer: 'tprobe', isReturn: false, point: { kind: 'tracepoint', name: 'sched_switch' } });
});

t.test('refusals: message, caret, error_log location', async (t) => {
  const cases: [string, string, number][] = [
    // [line, message, caret column]
    ['f5 vfs_read', 'Maxactive is only for function exit', 1],
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
    ['f vfs_read $arg*', 'BTF is not available or not supported', 11],
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
