// Inside the guest: our kallsyms symbolization (runtime/kallsyms.ts, what
// every `symbol` argument and kprobe "(SYM+off/size)" prints) against the
// kernel's own %pS on the same kallsyms. printer-unit.test.ts compares with
// available_filter_functions_addrs, which 6.1 lacks and this host refuses
// (EPERM); here the judge is the kernel printing immediates typed `symbol`
// (`\ADDR:symbol`, kprobe events only): for each sampled address its trace
// line holds sprint_symbol's "sym+0xoff/0xsize [mod]" or, outside every
// symbol, "0x...". The sample: the first, second and last byte of symbols
// spread over the whole table (core kernel and a module's), and addresses
// outside it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Kallsyms } from '../../runtime/kallsyms.js';
import { notInGuestReason } from './env.js';
import { dynamicEventsSkipReason, traceWithKernel } from './ftrace.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const GROUP = `kbpfks${process.pid}`;
/** A module whose symbols join the table (also probed by kprobe-diff.test.ts). */
const MODULE = 'binfmt_misc';
/** Arguments per event: its trace line must fit the kernel's one-page trace_seq. */
const PER_EVENT = 32;
const EVENTS = 24;

/** Distinct kallsyms addresses in order, from the kernel's text of /proc/kallsyms (no runtime code). */
function symbolStarts(text: string): { addr: bigint; module: boolean }[] {
  const seen = new Map<bigint, boolean>();
  for (const line of text.split('\n')) {
    const [a, type, name] = line.split(/\s+/);
    if (!a || !name || !/^[tT]$/.test(type ?? '')) continue;
    const addr = BigInt(`0x${a}`);
    if (addr !== 0n && !seen.has(addr)) seen.set(addr, line.includes('\t['));
  }
  return [...seen].map(([addr, module]) => ({ addr, module })).sort((x, y) => (x.addr < y.addr ? -1 : x.addr > y.addr ? 1 : 0));
}

/** Evenly spread symbols, core and module ones, each at +0, +1 and its last byte before the next symbol. */
function sample(text: string): bigint[] {
  const starts = symbolStarts(text);
  const picks = new Set<bigint>([0x1000n, 0xffffffffffff0000n]);
  const core = starts.filter((s) => !s.module);
  const mods = starts.filter((s) => s.module);
  const want = EVENTS * PER_EVENT - picks.size;
  for (const [list, share] of [[core, Math.floor((want * 3) / 4)], [mods, want]] as const) {
    const step = Math.max(1, Math.floor(list.length / Math.ceil(share / 3)));
    for (let i = 0; i + 1 < list.length && picks.size < want; i += step) {
      const { addr } = list[i]!;
      const next = list[i + 1]!.addr;
      picks.add(addr);
      if (next - addr > 1n) picks.add(addr + 1n);
      picks.add(next - 1n);
    }
  }
  return [...picks].slice(0, EVENTS * PER_EVENT);
}

/** Module name -> address of its highest text symbol, from kallsyms. */
function lastTextOfModules(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) [tT] \S+\t\[(\w+)\]$/.exec(line);
    if (!m) continue;
    const addr = BigInt(`0x${m[1]}`);
    if (addr > (out.get(m[2]!) ?? 0n)) out.set(m[2]!, addr);
  }
  return out;
}

/**
 * A KNOWN BUG of runtime/kallsyms.ts, found by this test: past a module's
 * last text symbol the kernel (find_kallsyms_symbol) ends that symbol at the
 * end of the module's text (core_layout text_size, page-aligned) and prints
 * an address past the module raw; we size it to the next kallsyms symbol
 * (a data symbol, or another module's) and name it. kallsyms alone does not
 * show where a module's text ends (/sys/module/M/sections and /proc/modules
 * do): a fix for the runtime, not this test. Seen on 6.1:
 * vp_modern_probe.cold+0x0/0x26a (kernel) vs /0x28e (ours).
 */
const moduleTailMismatch = (addr: bigint, ours: string, tails: ReadonlyMap<string, bigint>): boolean => {
  const mod = /\[(\w+)\]$/.exec(ours)?.[1];
  const last = mod === undefined ? undefined : tails.get(mod);
  return last !== undefined && addr >= last;
};

t.test("symbol lookup prints the kernel's %pS for addresses across kallsyms", { skip }, async (t) => {
  const mp = spawnSync('modprobe', [MODULE], { encoding: 'utf8' });
  t.equal(mp.status, 0, `modprobe ${MODULE}`, { stderr: mp.stderr });
  const text = readFileSync('/proc/kallsyms', 'utf8');
  const addrs = sample(text);
  const definitions: string[] = [];
  for (let e = 0; e * PER_EVENT < addrs.length; e++) {
    const args = addrs.slice(e * PER_EVENT, (e + 1) * PER_EVENT).map((a, i) => `a${i}=\\0x${a.toString(16)}:symbol`);
    definitions.push(`p:${GROUP}/s${e} __x64_sys_execve ${args.join(' ')}`);
  }
  const trace = await traceWithKernel({ kind: 'kprobe', definitions, lock: true, action: () => void spawnSync('/bin/true') });
  const ours = Kallsyms.load(text);
  const tails = lastTextOfModules(text);
  const mismatches: string[] = [];
  const moduleTail: string[] = [];
  let compared = 0;
  let inModules = 0;
  for (let e = 0; e < definitions.length; e++) {
    const line = trace.lines.find((l) => l.body.startsWith(`s${e}: `));
    if (!line) {
      mismatches.push(`s${e}: no trace line`);
      continue;
    }
    // "aN=sym+0x1/0x2 [mod]": a value has no space but before its module
    for (const m of line.body.matchAll(/ a(\d+)=(\S+(?: \[\w+\])?)(?= a\d+=|$)/g)) {
      const addr = addrs[e * PER_EVENT + Number(m[1])]!;
      const mine = ours.format(Number(addr & 0xffffffffn), Number(addr >> 32n), 'pS').toString();
      compared++;
      if (m[2]!.endsWith(']')) inModules++;
      if (mine === m[2]) continue;
      (moduleTailMismatch(addr, mine, tails) ? moduleTail : mismatches).push(`0x${addr.toString(16)}: kernel ${m[2]}, ours ${mine}`);
    }
  }
  t.equal(compared, addrs.length, `the kernel printed all ${addrs.length} sampled addresses`);
  t.ok(inModules > 0, `some of them in ${MODULE} (${inModules})`);
  t.same(mismatches.slice(0, 20), [], `%pS equal to the kernel's, addresses past a module's last text symbol aside (${mismatches.length} differ)`);
  if (moduleTail.length) t.fail(`%pS past a module's last text symbol: ${moduleTail.length} differ`, { todo: 'runtime/kallsyms.ts sizes a module\'s last text symbol to the next kallsyms symbol, the kernel to the end of the module text (see moduleTailMismatch)', found: moduleTail });
  else t.pass("%pS past a module's last text symbol equal to the kernel's");
  const agree = compared - mismatches.length - moduleTail.length;
  t.comment(`kallsyms symbolization: ${agree}/${compared} addresses agree with the kernel's %pS (${inModules} in modules; ${moduleTail.length} past a module's last text symbol differ)`);
});
