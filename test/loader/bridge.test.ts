// The syscall bridge's allow-list: what it refuses (unknown commands,
// pointers outside the wasm memory, short attrs, pointer fields it does not
// know, non-zero bytes past the union, files off its list, fds it did not
// open) and, as the control, that a well-formed attr in wasm memory does
// reach the kernel and load.
import t, { type Test } from 'tap';
import { BpfBridge, BridgeRefusal } from '../../runtime/bridge/bpf-bridge.js';
import { FdTable } from '../../runtime/bridge/fd-table.js';
import { HostBridge } from '../../runtime/bridge/host.js';
import * as libc from '../../runtime/bridge/libc.js';
import { commandValue, uapi } from '../../runtime/bridge/uapi.js';
import { loadSkipReason } from './lib.js';

const skip = loadSkipReason();
const PAGE = 65536;

function setup() {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const fds = new FdTable();
  const bridge = new BpfBridge({ memory: () => memory, fds });
  const mem = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);
  const field = (cmd: string, name: string) => {
    const f = uapi().commands[cmd]!.fields.find((x) => x.name === name);
    if (!f) throw new Error(`${cmd}.${name} not in the generated table`);
    return f;
  };
  /** Writes an attr for `cmd` at `at` from field values (numbers or bigint pointers). */
  const attr = (cmd: string, at: number, values: Record<string, number | bigint>) => {
    mem().fill(0, at, at + uapi().attrSize);
    for (const [k, v] of Object.entries(values)) {
      const f = field(cmd, k);
      if (f.size === 8) dv().setBigUint64(at + f.offset, BigInt(v), true);
      else dv().setUint32(at + f.offset, Number(v), true);
    }
  };
  return { memory, bridge, mem, dv, attr, field, fds };
}

function refusal(t: Test, fn: () => unknown, reason: string, message: RegExp): void {
  try {
    fn();
    t.fail(`expected a ${reason} refusal`);
  } catch (e) {
    t.ok(e instanceof BridgeRefusal, 'a BridgeRefusal');
    t.equal((e as BridgeRefusal).reason, reason);
    t.match((e as Error).message, message);
  }
}

t.test('the layout tables come from linux/bpf.h', async (t) => {
  const tables = uapi();
  t.ok(tables.attrSize >= 120, `union bpf_attr is ${tables.attrSize} bytes`);
  t.equal(commandValue('BPF_PROG_LOAD'), 5, 'enum bpf_cmd value');
  const ptrs = tables.commands.BPF_PROG_LOAD!.fields.filter((f) => f.pointer).map((f) => f.name);
  t.same(ptrs.slice(0, 5), ['insns', 'license', 'log_buf', 'func_info', 'line_info'], 'PROG_LOAD pointer fields, in header order');
  // The newest header (this kernel is 6.18; libbpf 1.1.2's copy is about 6.2):
  // the fields added since are known, so the bridge can refuse them.
  t.same(tables.commands.BPF_MAP_CREATE!.fields.filter((f) => f.pointer).map((f) => [f.name, f.offset]), [['excl_prog_hash', 80]], 'MAP_CREATE: the 6.18 excl_prog_hash pointer is known');
  t.same(tables.infos.bpf_map_info!.fields.filter((f) => f.pointer).map((f) => [f.name, f.offset]), [['hash', 88]], 'bpf_map_info: the 6.18 hash pointer is known');
  t.ok(tables.infos.bpf_map_info!.size >= 104, `bpf_map_info is ${tables.infos.bpf_map_info!.size} bytes (6.18: 104)`);
  t.ok(tables.infos.bpf_prog_info!.fields.some((f) => f.name === 'verified_insns'));
});

t.test('an unknown bpf command is refused', async (t) => {
  const { bridge, attr } = setup();
  attr('BPF_PROG_LOAD', 256, {});
  refusal(t, () => bridge.call(9999, 256, 64), 'unknown-command', /bpf command 9999 is not on the bridge's allow-list/);
  // known to the kernel, but not to the loader's allow-list
  refusal(t, () => bridge.call(commandValue('BPF_PROG_ATTACH'), 256, 64), 'unknown-command', /BPF_PROG_ATTACH is not on the bridge's allow-list/);
  refusal(t, () => bridge.call(commandValue('BPF_RAW_TRACEPOINT_OPEN'), 256, 64), 'unknown-command', /BPF_RAW_TRACEPOINT_OPEN/);
});

t.test('a pointer outside the wasm memory is refused', async (t) => {
  const { bridge, attr, memory } = setup();
  const size = uapi().attrSize;
  const len = memory.buffer.byteLength;
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 2, insns: BigInt(len + 4096), license: 1024n });
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), 256, size), 'pointer-out-of-bounds', /'insns' = 0x[0-9a-f]+ \(\+16 bytes\) lies outside the wasm memory/);
  // starts inside, runs past the end
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 4, insns: BigInt(len - 8), license: 1024n });
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), 256, size), 'pointer-out-of-bounds', /'insns'/);
  // the attr itself
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), len - 16, size), 'pointer-out-of-bounds', /attr at/);
  // a map value beyond the memory: the BTF blob of BTF_LOAD
  attr('BPF_BTF_LOAD', 256, { btf: BigInt(len - 10), btf_size: 100 });
  refusal(t, () => bridge.call(commandValue('BPF_BTF_LOAD'), 256, size), 'pointer-out-of-bounds', /'btf'/);
});

t.test('a short attr is refused', async (t) => {
  const { bridge, attr, field } = setup();
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 2, insns: 512n, license: 1024n });
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), 256, 8), 'short-attr', /BPF_PROG_LOAD: attr of 8 bytes is too short \(needs at least 24, to the end of 'license'\)/);
  const logBuf = field('BPF_PROG_LOAD', 'log_buf');
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), 256, logBuf.offset + 4), 'split-field', /cuts pointer field 'log_buf' in half/);
  refusal(t, () => bridge.call(commandValue('BPF_MAP_CREATE'), 256, 4), 'short-attr', /BPF_MAP_CREATE/);
});

t.test('pointer fields off the allow-list must be NULL; bytes past the union must be zero', async (t) => {
  const { bridge, attr, mem } = setup();
  const size = uapi().attrSize;
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 2, insns: 512n, license: 1024n, fd_array: 2048n });
  refusal(t, () => bridge.call(commandValue('BPF_PROG_LOAD'), 256, size), 'pointer-not-allowed', /'fd_array' is not on the bridge's allow-list and must be NULL/);
  attr('BPF_MAP_CREATE', 256, { map_type: 2, key_size: 4, value_size: 4, max_entries: 1 });
  mem()[256 + size + 3] = 1;
  refusal(t, () => bridge.call(commandValue('BPF_MAP_CREATE'), 256, size + 8), 'oversized-attr', /non-zero bytes past the \d+ linux\/bpf.h defines/);
  // inside the union, but past the command's last field (kernel: CHECK_ATTR)
  attr('BPF_MAP_LOOKUP_ELEM', 256, { map_fd: 0 });
  mem()[256 + 40] = 1;
  refusal(t, () => bridge.call(commandValue('BPF_MAP_FREEZE'), 256, size), 'unknown-bytes', /BPF_MAP_FREEZE: attr byte 40 is non-zero, past the last field linux\/bpf.h gives the command \(byte 32\)/);
});

t.test('a well-formed attr in wasm memory reaches the kernel', { skip }, async (t) => {
  const { bridge, attr, mem, fds } = setup();
  const size = uapi().attrSize;
  // r0 = 0; exit
  mem().set([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 512);
  mem().set(Buffer.from('GPL\0'), 1024);
  const LOG = 4096;
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 2, insns: 512n, license: 1024n, log_level: 1, log_size: 8192, log_buf: BigInt(LOG) });
  const fd = bridge.call(commandValue('BPF_PROG_LOAD'), 256, size);
  t.ok(fd >= 0, `the kernel loaded it (fd ${fd})`);
  t.ok(fds.has(fd) && fds.size === 1, 'the bridge owns the new fd');
  const log = Buffer.from(mem().subarray(LOG, LOG + 8192)).toString('latin1').replace(/\0.*$/s, '');
  t.match(log, /processed 2 insns/, 'the verifier wrote its log into wasm memory');
  t.equal(bridge.progLoads.at(-1)!.fd, fd);

  // BPF_OBJ_GET_INFO_BY_FD: the info struct and the buffer it points to
  // (xlated_prog_insns) both live in wasm memory; the kernel fills both.
  const INFO = 16384;
  const XLATED = 20480;
  const infoSize = uapi().infos.bpf_prog_info!.size;
  const infoField = (n: string) => uapi().infos.bpf_prog_info!.fields.find((f) => f.name === n)!;
  mem().fill(0, INFO, INFO + infoSize);
  mem().fill(0xee, XLATED, XLATED + 64);
  new DataView(mem().buffer).setUint32(INFO + infoField('xlated_prog_len').offset, 64, true);
  new DataView(mem().buffer).setBigUint64(INFO + infoField('xlated_prog_insns').offset, BigInt(XLATED), true);
  attr('BPF_OBJ_GET_INFO_BY_FD', 256, { 'info.bpf_fd': fd, 'info.info_len': infoSize, 'info.info': BigInt(INFO) });
  t.equal(bridge.call(commandValue('BPF_OBJ_GET_INFO_BY_FD'), 256, size), 0, 'info query through the bridge');
  const dv = new DataView(mem().buffer);
  t.equal(dv.getUint32(INFO + infoField('xlated_prog_len').offset, true), 16, 'kernel: 2 translated instructions');
  t.equal(dv.getBigUint64(INFO + infoField('xlated_prog_insns').offset, true), BigInt(XLATED), 'the nested pointer reads back as the wasm offset');
  t.same([...mem().subarray(XLATED, XLATED + 16)], [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 'the kernel wrote the instructions into wasm memory');
  t.equal(dv.getUint32(INFO + infoField('type').offset, true), 2, 'a kprobe program');
  // the same query with the nested pointer out of bounds is refused
  dv.setBigUint64(INFO + infoField('xlated_prog_insns').offset, BigInt(mem().length - 8), true);
  refusal(t, () => bridge.call(commandValue('BPF_OBJ_GET_INFO_BY_FD'), 256, size), 'pointer-out-of-bounds', /bpf_prog_info\.xlated_prog_insns/);
  libc.close(fd);

  // and a rejection comes back as -errno, not a refusal
  mem().set([0x95, 0, 0, 0, 0, 0, 0, 0], 512); // exit with r0 unset
  attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 1, insns: 512n, license: 1024n });
  t.equal(bridge.call(commandValue('BPF_PROG_LOAD'), 256, size), -13, '-EACCES from the verifier');
});

t.test('the host side refuses files off its list and fds it does not own', async (t) => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const warnings: string[] = [];
  const host = new HostBridge(() => memory, (_l, m) => warnings.push(m));
  const imports = host.imports() as Record<string, (...a: number[]) => number>;
  const mem = new Uint8Array(memory.buffer);
  mem.set(Buffer.from('/etc/passwd\0'), 100);
  const WASI_O_RDONLY = 0x04000000;
  const WASI_EACCES = 2;
  const WASI_EBADF = 8;
  t.equal(imports.open!(100, WASI_O_RDONLY, 0), -WASI_EACCES, '/etc/passwd: EACCES (in wasi numbering)');
  t.match(warnings.join('\n'), /open \/etc\/passwd.*not on the bridge's read-only path list/);
  mem.set(Buffer.from('/sys/kernel/btf/vmlinux\0'), 200);
  t.equal(imports.open!(200, 0x10000000 /* wasi O_WRONLY */, 0), -WASI_EACCES, 'write access to an allowed file: EACCES');
  t.equal(imports.close!(1), -WASI_EBADF, "stdout is Node's, not the module's: EBADF");
  t.equal(imports.read!(0, 300, 10), -WASI_EBADF, 'stdin likewise');
  t.equal(imports.read!(0, PAGE * 4, 10), -WASI_EBADF, 'fd checked first');
  const fd = imports.open!(200, WASI_O_RDONLY, 0);
  t.ok(fd >= 0, `the allowed file opens (fd ${fd})`);
  t.equal(imports.read!(fd, PAGE - 2, 16), -21 /* wasi EFAULT */, 'a read into a buffer past the memory end: EFAULT');
  t.equal(imports.read!(fd, 1000, 16), 16, 'an in-bounds read works');
  t.equal(imports.close!(fd), 0);
  t.equal(host.closeAll(), 0, 'nothing left open');
});
