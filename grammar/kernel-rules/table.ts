// Where the probe and filter grammars changed between kernel versions: one
// table, one row per change, keyed by the first version that has it; a
// version gets every row at or below it. Facts from the kernel sources of
// Debian's 6.1 and 6.12, the live 6.18 (uprobes, filters) and the live
// Debian 6.1 guest (kprobes): shared/design/filters-and-modern-events.md.
// A row marked "inferred" is keyed by the mainline release its commit went
// into, not checked on a kernel of that version.
import type { FilterRules } from './filter.js';
import type { ProbeRules } from './probe.js';

export interface Change {
  readonly probe?: Partial<Omit<ProbeRules, 'version'>>;
  readonly filter?: Partial<Omit<FilterRules, 'version'>>;
}

export interface Row {
  readonly version: string;
  readonly change: Change;
  readonly source: string;
}

export const CHANGES: readonly Row[] = [
  { version: '6.1', change: {}, source: 'Debian 6.1.0-57 (6.1.192): the base rows of probe.ts and filter.ts' },
  { version: '6.3', change: { probe: { charType: true }, filter: { functionSuffix: true } },
    source: 'char fetch type (probes-v6.3, inferred); filter .function (6.3 merge)' },
  {
    version: '6.5',
    change: {
      probe: {
        btfArgs: true, typeErrorOffset: 'dereference', eventFields: 'parse',
        errorTexts: {}, // BAD_MAXACT_TYPE reworded with fprobe events
      },
    },
    source: 'b576e09 BTF function parameters and $arg*, fprobe events ("Maxactive is only for function exit"), '
      + 'traceprobe_parse_context offsets (inferred); eprobe $FIELD looked up by the common parser (parse_trace_event_arg)',
  },
  { version: '6.6', change: { filter: { cpus: true } }, source: 'CPUS{} and FILTER_CPUMASK, 6.6 merge' },
  {
    version: '6.8',
    change: { probe: { unloggedErrors: [] } },
    source: '8c427cc2fa73 "Fix to show a parse error for bad type for $comm" (v6.8-rc; stable 6.6.y, 6.7.y; '
      + 'its 6.1.y backport failed, as the live guest shows)',
  },
  { version: '6.9', change: { probe: { exitArgs: true } }, source: '25f00e40 entry arguments in return probes (probes-v6.9)' },
  {
    version: '6.12',
    change: {
      probe: { extraArgs: 'refuse', unloggedErrors: ['TOO_MANY_ARGS'], errorTexts: { BAD_VAR: 'Invalid $-valiable specified' } },
      filter: { stacktraceField: true, trailingOperator: 'accept' },
    },
    source: '73f35080477e "Fix MAX_TRACE_ARGS limit handling" (v6.12-rc, CVE-2024-50132): more than 128 arguments '
      + 'is E2BIG, not logged, for kprobes and uprobes (the live Debian 6.12.95 guest: E2BIG, error_log empty); '
      + 'BAD_VAR still spelt "valiable" in the live 6.12.95 guest and its vmlinux (Debian\'s 6.1.0-57 has the fix by a '
      + 'stable backport; 6.2 to 6.11 not checked); trace_define_generic_fields in 6.12.107 (first mainline version not established); '
      + 'a trailing && or || accepted by the live 6.12.95 guest (6.1.0-57 and 6.18 refuse it)',
  },
  {
    version: '6.15',
    change: { probe: { unloggedErrors: [] } },
    source: '57faaa04804c "Log error for exceeding the number of arguments" (for-6.15; stable 6.14.y), live 6.18 uprobes',
  },
  {
    version: '6.18',
    change: { probe: { errorTexts: {}, btfTypecast: true }, filter: { trailingOperator: 'refuse' } },
    source: 'live 6.18: "a == 1 &&" refused, 6.12.107 source accepts; "(" starts a BTF argument (6.12.95 guest eprobes: '
      + '"Invalid fetch argument"; first version not established); BAD_VAR spelt "variable" (first mainline version '
      + 'after 6.12 with the fix not established)',
  },
];
