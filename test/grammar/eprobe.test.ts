// The eprobe grammar on fixed attached events (no kernel): what reads back,
// which $FIELD the rules of 6.1 and 6.12 take, and the words and places of
// the refusals. The kernel's own answers are the guest differential's
// (test/guest/eprobe-grammar.test.ts); these pin the two rule sets apart.
import t from 'tap';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, type AttachedEventLookup } from '../../grammar/index.js';
import { fieldsFromFormat } from '../../grammar/filter/index.js';

const SCHED_SWITCH = `name: sched_switch
ID: 1
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;

print fmt: "prev_comm=%s"
`;
const lookup: AttachedEventLookup = (s, e) => (s === 'sched' && e === 'sched_switch' ? fieldsFromFormat(SCHED_SWITCH) : undefined);

function answer(line: string, version: string): string {
  try {
    const { commands } = parseProbeCommands(line, { rules: kernelRules(version).probe, attachedEvent: lookup });
    return commands.map((c) => formatProbeCommand(c)).join('\n');
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) throw e;
    return [...e.earlier, e.toErrorLog()].join('\n');
  }
}

const both = (line: string, want: string, what: string) => {
  t.equal(answer(line, '6.1'), want, `6.1: ${what}`);
  t.equal(answer(line, '6.12'), want, `6.12: ${what}`);
};

both('e sched.sched_switch $prev_pid', 'e:eprobes/sched_switch sched.sched_switch arg1=$prev_pid', 'default group and event, argN names');
both('e:my/sw sched/sched_switch p=$prev_pid:s32 c=$prev_comm:string if prev_pid > 0', 'e:my/sw sched.sched_switch p=$prev_pid:s32 c=$prev_comm:string', 'SYS/EVENT, the filter not read back');
both('e:my/ sched.sched_switch', 'e:my/sched_switch sched.sched_switch', 'GRP/ takes the attached event\'s name');
both('e sched.nope', 'event_probe: error: Attached event does not exist\n  Command: e sched.nope\n             ^', 'an unknown event');
both('e sched', 'event_probe: error: This requires both group and event name to attach\n  Command: e sched\n             ^', 'no system');
both('e sched.sched_switch $prev_pid if', "event_probe: error: No filter rule after 'if'\n  Command: e sched.sched_switch $prev_pid if\n                                             ^", 'if with no rule');
both('e sched.sched_switch $prev_pid if nope == 1', 'event filter parse error: error: Field not found\n  Command: nope == 1\n                ^', 'a filter against the attached event\'s fields');
for (const [v, word] of [['6.1', 'variable'], ['6.12', 'valiable']] as const) {
  t.equal(answer('e sched.sched_switch %di', v), [
    `event_probe: error: Invalid $-${word} specified\n  Command: e sched.sched_switch %di\n                                ^`,
    'event_probe: error: Invalid fetch argument\n  Command: e sched.sched_switch %di\n                                ^',
  ].join('\n'), `${v}: a register, BAD_VAR then BAD_FETCH_ARG`);
}

t.equal(answer('e sched.sched_switch x=$nope', '6.1'), 'event_probe: error: Attached event does not have this field\n  Command: e sched.sched_switch x=$nope\n                                ^', '6.1: an unknown field, found after the argument');
t.equal(answer('e sched.sched_switch x=$nope', '6.12'), 'event_probe: error: Invalid $-valiable specified\n  Command: e sched.sched_switch x=$nope\n                                  ^', '6.12: an unknown field, BAD_VAR at the $');
t.equal(answer('e sched.sched_switch $comm', '6.1'), 'e:eprobes/sched_switch sched.sched_switch arg1=$comm', '6.1: $comm');
both('e sched.sched_switch $comm:u32', 'e:eprobes/sched_switch sched.sched_switch arg1=$comm:u32', '$comm keeps any type (an event may have a comm field)');
both('e sched.sched_switch \\"s":u32', 'e:eprobes/sched_switch sched.sched_switch arg1=\\"s":u32', '\\"str" keeps any type too');
