// Loading uprobe programs for a uprobe_multi link (BpfObject.load({ uprobeMulti })):
// libbpf 1.1 knows no `uprobe.multi` section, so the loader gives the uprobe
// programs, and nothing else, expected_attach_type BPF_TRACE_UPROBE_MULTI
// (bpf_program__set_expected_attach_type). Judged by the kernel:
// bpf_uprobe_multi_link_attach accepts a link only for a program loaded with
// that attach type (EINVAL otherwise), and a perf-event attach
// (PERF_EVENT_IOC_SET_BPF) takes the others. Objects built by clang.
import t from 'tap';
import { BpfObject } from '../../runtime/loader.js';
import { SysError } from '../../runtime/sys/index.js';
import { UprobeMultiLink, attachUprobe, uprobeMultiProblem } from '../../runtime/attach/index.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { buildLoopTarget } from '../e2e/lib/loop-target.js';
import { compileBpf, loadSkipReason } from './lib.js';
import { BpfBridge, BridgeRefusal } from '../../runtime/bridge/bpf-bridge.js';
import { FdTable } from '../../runtime/bridge/fd-table.js';
import { commandValue, enumValue, uapi } from '../../runtime/bridge/uapi.js';

const skip = loadSkipReason() ?? uprobeMultiProblem(true);
const quiet = (): void => {};

// Two uprobe programs (one sleepable) and a kprobe program whose name agrees
// with the second uprobe's in the 15 characters the kernel keeps (programs
// are chosen by their libbpf handle, not by the name a BPF_PROG_LOAD carries).
const SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("uprobe.s/x:0x0") int umulti__entry_one(void *ctx) { return 0; }
SEC("uretprobe/x:0x0") int umulti__shared_name_u(void *ctx) { return 0; }
SEC("kprobe/do_sys_openat2") int umulti__shared_name_k(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

/** 'link' when the kernel makes a uprobe_multi link for the program, else the errno name it refused with. */
function linkVerdict(progFd: number, path: string, offset: bigint, isReturn: boolean): string {
  const link = new UprobeMultiLink([{ path, offset, isReturn }]);
  link.setBpf(progFd);
  try {
    link.enable();
    return 'link';
  } catch (e) {
    if (e instanceof SysError) return e.code;
    throw e;
  } finally {
    link.close();
  }
}

t.test('uprobe programs load for uprobe_multi, a kprobe program sharing a kernel name does not', { skip }, async (t) => {
  const target = buildLoopTarget();
  const offset = new ElfSymbols(target.path).resolve('kpb_tick');
  const bytes = compileBpf('umulti', SOURCE);

  const obj = BpfObject.open(bytes, { name: 'umulti', logger: quiet });
  try {
    const loaded = obj.load({ uprobeMulti: true });
    const by = new Map(loaded.programs.map((p) => [p.name, p]));
    const one = by.get('umulti__entry_one')!;
    const clash = by.get('umulti__shared_name_u')!;
    const kp = by.get('umulti__shared_name_k')!;
    t.ok(one.loaded && clash.loaded && kp.loaded, 'all three load');
    t.equal(one.uprobeMulti, true, 'the sleepable uprobe program is reported as uprobe_multi');
    t.equal(linkVerdict(one.fd, target.path, offset, false), 'link', 'and the kernel links it through uprobe_multi');
    t.equal(clash.uprobeMulti, true, 'a uprobe program whose kernel name a kprobe program shares is uprobe_multi too');
    t.equal(linkVerdict(clash.fd, target.path, offset, true), 'link', 'and the kernel links it through uprobe_multi');
    t.equal(kp.uprobeMulti, false, 'the kprobe program is left alone');
  } finally {
    obj.close();
  }

  const plain = BpfObject.open(bytes, { name: 'umulti_plain', logger: quiet });
  try {
    const one = plain.load().programs.find((p) => p.name === 'umulti__entry_one')!;
    t.equal(one.uprobeMulti, false, 'without the option nothing is uprobe_multi');
    t.equal(linkVerdict(one.fd, target.path, offset, false), 'EINVAL', 'and the kernel refuses the link');
    // loaded without the option, it attaches the old way
    const perf = attachUprobe({ path: target.path, offset, isReturn: false });
    try {
      t.doesNotThrow(() => perf.setBpf(one.fd), 'the program loaded without the option attaches to a uprobe perf event');
    } finally {
      perf.close();
    }
  } finally {
    plain.close();
  }
});

t.test('the feature probe: this kernel has the link (6.6+); the switch forces the perf events', { skip: loadSkipReason() }, async (t) => {
  const [major, minor] = (await import('node:os')).release().split('.').map(Number) as [number, number];
  const expected = major > 6 || (major === 6 && minor >= 6);
  t.equal(uprobeMultiProblem(false) === undefined, expected, `kernel ${major}.${minor}: ${uprobeMultiProblem(false) ?? 'has uprobe_multi'}`);
  process.env['KPROBE_BPF_UPROBE_MULTI'] = '0';
  try {
    t.match(uprobeMultiProblem(false), /KPROBE_BPF_UPROBE_MULTI=0/, 'forced off');
  } finally {
    delete process.env['KPROBE_BPF_UPROBE_MULTI'];
  }
});

t.test('the bridge: the attach type passes through as given; no uprobe_multi link from the module', { skip: loadSkipReason() }, async (t) => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const fds = new FdTable();
  const bridge = new BpfBridge({ memory: () => memory, fds });
  const mem = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);
  const size = uapi().attrSize;
  const put = (cmd: string, values: Record<string, number | bigint>) => {
    mem().fill(0, ATTR, ATTR + size);
    for (const [k, v] of Object.entries(values)) {
      const f = uapi().commands[cmd]!.fields.find((x) => x.name === k)!;
      if (f.size === 8) dv().setBigUint64(ATTR + f.offset, BigInt(v), true);
      else dv().setUint32(ATTR + f.offset, Number(v), true);
    }
  };
  const ATTR = 256;
  const nameAt = uapi().commands.BPF_PROG_LOAD!.fields.find((f) => f.name === 'prog_name')!.offset;
  mem().set([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 512); // r0 = 0; exit
  mem().set(Buffer.from('GPL\0'), 1024);
  const KPROBE = enumValue('bpf_prog_type', 'BPF_PROG_TYPE_KPROBE');
  const MULTI = enumValue('bpf_attach_type', 'BPF_TRACE_UPROBE_MULTI');
  /** Loads r0 = 0; exit as `name` with this type and attach type; its fd. */
  const load = (name: string, progType: number, attach = 0): number => {
    put('BPF_PROG_LOAD', { prog_type: progType, insn_cnt: 2, insns: 512n, license: 1024n, expected_attach_type: attach });
    mem().set(Buffer.from(`${name}\0`), ATTR + nameAt);
    return bridge.call(commandValue('BPF_PROG_LOAD'), ATTR, size);
  };
  const target = buildLoopTarget();
  const offset = new ElfSymbols(target.path).resolve('kpb_tick');
  const ours = load('ours', KPROBE, MULTI);
  t.ok(ours >= 0, 'a kprobe-type program loads with BPF_TRACE_UPROBE_MULTI');
  t.equal(linkVerdict(ours, target.path, offset, false), 'link', 'and the kernel links it through uprobe_multi');
  const other = load('ours', KPROBE);
  t.ok(other >= 0, 'the same program loads with attach type 0');
  t.equal(linkVerdict(other, target.path, offset, false), 'EINVAL', 'and the kernel refuses it the link: the bridge changed nothing');

  // the module itself may not make a uprobe_multi link: the bridge's BPF_LINK_CREATE is libbpf's perf-link probe only
  mem().set(Buffer.from(`${target.path}\0`), 2048);
  dv().setBigUint64(3072, offset, true);
  put('BPF_LINK_CREATE', {
    'link_create.prog_fd': ours, 'link_create.target_fd': 0, 'link_create.attach_type': MULTI,
    'link_create.uprobe_multi.path': 2048n, 'link_create.uprobe_multi.offsets': 3072n, 'link_create.uprobe_multi.cnt': 1,
  });
  try {
    bridge.call(commandValue('BPF_LINK_CREATE'), ATTR, size);
    t.fail('the module made a uprobe_multi link');
  } catch (e) {
    t.ok(e instanceof BridgeRefusal, `refused: ${(e as Error).message}`);
  }
  fds.closeAll();
  target.cleanup();
});
