// The bridge as a security boundary (issue 17): each call below is what wasm
// code that a libbpf parsing bug has taken over could make. Each is refused
// with a BridgeRefusal before the kernel sees it, and the kernel state it
// aimed at is checked afterwards to be untouched.
import { execFileSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { BpfBridge, BridgeRefusal } from '../../runtime/bridge/bpf-bridge.js';
import { FdTable } from '../../runtime/bridge/fd-table.js';
import { HostBridge } from '../../runtime/bridge/host.js';
import * as libc from '../../runtime/bridge/libc.js';
import { objectInfo } from '../../runtime/bridge/object-info.js';
import { commandValue, enumValue, uapi } from '../../runtime/bridge/uapi.js';
import { addressOf, bpf } from '../../runtime/sys/bpf.js';
import { loadSkipReason } from './lib.js';

const skip = loadSkipReason();
const size = () => uapi().attrSize;

function setup() {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const fds = new FdTable();
  const bridge = new BpfBridge({ memory: () => memory, fds });
  const mem = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);
  /** Writes an attr for `cmd` at `at` from field values. */
  const attr = (cmd: string, at: number, values: Record<string, number | bigint>) => {
    mem().fill(0, at, at + size());
    for (const [k, v] of Object.entries(values)) {
      const f = uapi().commands[cmd]!.fields.find((x) => x.name === k);
      if (!f) throw new Error(`${cmd}.${k} not in the generated table`);
      if (f.size === 8) dv().setBigUint64(at + f.offset, BigInt(v), true);
      else dv().setUint32(at + f.offset, Number(v), true);
    }
  };
  const call = (cmd: string, at = 256) => bridge.call(commandValue(cmd), at, size());
  return { bridge, fds, mem, dv, attr, call };
}

function refused(t: Test, fn: () => unknown, reason: string, message: RegExp): void {
  try {
    fn();
    t.fail(`expected a ${reason} refusal`);
  } catch (e) {
    t.ok(e instanceof BridgeRefusal, `refused: ${(e as Error).message}`);
    t.equal((e as BridgeRefusal).reason, reason);
    t.match((e as Error).message, message);
  }
}

/** A u32 -> u32 array map of one entry, made by the host (not through the bridge). */
function hostMap(value: number): number {
  const a = Buffer.alloc(size());
  a.writeUInt32LE(enumValue('bpf_map_type', 'BPF_MAP_TYPE_ARRAY'), 0);
  a.writeUInt32LE(4, 4);
  a.writeUInt32LE(4, 8);
  a.writeUInt32LE(1, 12);
  const fd = bpf(commandValue('BPF_MAP_CREATE'), a, 'BPF_MAP_CREATE');
  mapAccess(fd, 'BPF_MAP_UPDATE_ELEM', value);
  return fd;
}

function mapAccess(fd: number, cmd: 'BPF_MAP_UPDATE_ELEM' | 'BPF_MAP_LOOKUP_ELEM', value = 0): number {
  const k = Buffer.alloc(4);
  const v = Buffer.alloc(4);
  v.writeUInt32LE(value);
  const a = Buffer.alloc(32);
  a.writeUInt32LE(fd, 0);
  a.writeBigUInt64LE(addressOf(k), 8);
  a.writeBigUInt64LE(addressOf(v), 16);
  bpf(commandValue(cmd), a, cmd);
  return v.readUInt32LE();
}

/** r0 = 0; exit, loaded through the bridge (so the module owns the fd). */
function bridgeProgram(s: ReturnType<typeof setup>, progType = 'BPF_PROG_TYPE_KPROBE'): number {
  s.mem().set([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 4096);
  s.mem().set(Buffer.from('GPL\0'), 4200);
  s.attr('BPF_PROG_LOAD', 256, { prog_type: enumValue('bpf_prog_type', progType), insn_cnt: 2, insns: 4096n, license: 4200n });
  return s.call('BPF_PROG_LOAD');
}

t.test('hole 1: fields of a newer kernel than the header never cross', { skip }, async (t) => {
  const s = setup();
  // BPF_MAP_CREATE's excl_prog_hash (6.18): the kernel would read 32 bytes at any host address
  s.attr('BPF_MAP_CREATE', 256, { map_type: 2, key_size: 4, value_size: 4, max_entries: 1, excl_prog_hash: 0x400000n, excl_prog_hash_size: 32 });
  refused(t, () => s.call('BPF_MAP_CREATE'), 'pointer-not-allowed', /BPF_MAP_CREATE: pointer field 'excl_prog_hash' is not on the bridge's allow-list and must be NULL/);
  t.equal(s.fds.size, 0, 'no map was created');

  // a map of the module's own, then its info with the 6.18 hash pointer set
  s.attr('BPF_MAP_CREATE', 256, { map_type: 2, key_size: 4, value_size: 4, max_entries: 1 });
  const map = s.call('BPF_MAP_CREATE');
  t.ok(map >= 0 && s.fds.has(map), `the module's map (fd ${map})`);
  const info = uapi().infos.bpf_map_info!;
  const hash = info.fields.find((f) => f.name === 'hash')!;
  const INFO = 8192;
  s.mem().fill(0, INFO, INFO + 512);
  s.dv().setBigUint64(INFO + hash.offset, 0x400000n, true);
  s.dv().setUint32(INFO + hash.offset + 8, 32, true);
  s.attr('BPF_OBJ_GET_INFO_BY_FD', 256, { 'info.bpf_fd': map, 'info.info_len': info.size, 'info.info': BigInt(INFO) });
  refused(t, () => s.call('BPF_OBJ_GET_INFO_BY_FD'), 'pointer-not-allowed', /bpf_map_info\.hash is not on the bridge's allow-list and must be NULL/);

  // an info_len past the struct we know is capped to it, as the kernel does for an older caller
  s.mem().fill(0, INFO, INFO + 512);
  s.mem().fill(0xee, INFO + info.size, INFO + info.size + 64);
  s.attr('BPF_OBJ_GET_INFO_BY_FD', 256, { 'info.bpf_fd': map, 'info.info_len': info.size + 64, 'info.info': BigInt(INFO) });
  t.equal(s.call('BPF_OBJ_GET_INFO_BY_FD'), 0, 'the query with a long info_len succeeds');
  const lenField = uapi().commands.BPF_OBJ_GET_INFO_BY_FD!.fields.find((f) => f.name === 'info.info_len')!;
  t.ok(s.dv().getUint32(256 + lenField.offset, true) <= info.size, 'info_len comes back capped to the known struct');
  t.ok(s.mem().subarray(INFO + info.size, INFO + info.size + 64).every((b) => b === 0xee), 'nothing written past the known struct');
  t.equal(s.dv().getUint32(INFO + info.fields.find((f) => f.name === 'key_size')!.offset, true), 4, 'the known fields are filled');
  s.fds.closeAll();
});

t.test('hole 2: only fds the module received from the bridge', { skip }, async (t) => {
  const s = setup();
  const host = hostMap(7);
  t.teardown(() => libc.close(host));
  s.mem().fill(0, 4096, 4104);
  s.dv().setUint32(4100, 99, true);
  s.attr('BPF_MAP_UPDATE_ELEM', 256, { map_fd: host, key: 4096n, value: 4100n });
  refused(t, () => s.call('BPF_MAP_UPDATE_ELEM'), 'bad-fd', /BPF_MAP_UPDATE_ELEM: 'map_fd': fd \d+ was not handed to the module by the bridge/);
  t.equal(mapAccess(host, 'BPF_MAP_LOOKUP_ELEM'), 7, "the host's map still holds its value");

  // a program whose ld_imm64 names the host's map
  s.mem().set([0x18, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 4096);
  s.dv().setUint32(4100, host, true);
  s.mem().set(Buffer.from('GPL\0'), 4200);
  s.attr('BPF_PROG_LOAD', 256, { prog_type: 2, insn_cnt: 4, insns: 4096n, license: 4200n });
  refused(t, () => s.call('BPF_PROG_LOAD'), 'bad-fd', /instruction 0 \(ld_imm64 map\): fd \d+ was not handed/);
  s.attr('BPF_OBJ_GET_INFO_BY_FD', 256, { 'info.bpf_fd': host, 'info.info_len': 8, 'info.info': 8192n });
  refused(t, () => s.call('BPF_OBJ_GET_INFO_BY_FD'), 'bad-fd', /'info.bpf_fd': fd \d+/);

  // by id: maps and programs are not libbpf's to open; BTF only the kernel's
  const id = objectInfo(host, 'bpf_map_info')!.id!;
  s.attr('BPF_MAP_GET_FD_BY_ID', 256, { map_id: id });
  refused(t, () => s.call('BPF_MAP_GET_FD_BY_ID'), 'unknown-command', /BPF_MAP_GET_FD_BY_ID is not on the bridge's allow-list/);
  refused(t, () => s.call('BPF_PROG_GET_FD_BY_ID'), 'unknown-command', /BPF_PROG_GET_FD_BY_ID/);
  const shown = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const vmlinux = shown.find((b) => b.name === 'vmlinux');
  t.ok(vmlinux, 'bpftool lists the vmlinux BTF');
  s.attr('BPF_BTF_GET_FD_BY_ID', 256, { btf_id: vmlinux!.id });
  const kfd = s.call('BPF_BTF_GET_FD_BY_ID');
  t.ok(kfd >= 0 && s.fds.has(kfd), "the kernel's BTF opens, as libbpf's load_module_btfs() needs");
  const prog = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'show'], { encoding: 'utf8' })) as { id: number; kernel?: boolean; name?: string }[];
  const other = prog.find((b) => objectInfoById(b.id) === 0);
  if (other) {
    s.attr('BPF_BTF_GET_FD_BY_ID', 256, { btf_id: other.id });
    t.equal(s.call('BPF_BTF_GET_FD_BY_ID'), -LINUX_ERRNO.ENOENT, `a program's BTF (id ${other.id}) reads as gone: ENOENT, no fd`);
  }
  t.equal(s.fds.size, 1, 'the module owns only the kernel BTF fd');
  s.fds.closeAll();
});

/** kernel_btf of a BTF id (bpftool's view), 1 or 0. */
function objectInfoById(id: number): number {
  const j = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'show', 'id', String(id)], { encoding: 'utf8' })) as { kernel?: boolean; name?: string };
  return j.name === 'vmlinux' || j.kernel ? 1 : 0;
}

t.test('hole 3: check is load-only, BPF_LINK_CREATE only as libbpf probes it', { skip }, async (t) => {
  const s = setup();
  const xdp = bridgeProgram(s, 'BPF_PROG_TYPE_XDP');
  t.ok(xdp >= 0, `an XDP program of the module's (fd ${xdp})`);
  const linksBefore = execFileSync('bpftool', ['link', 'list'], { encoding: 'utf8' });
  s.attr('BPF_LINK_CREATE', 256, { 'link_create.prog_fd': xdp, 'link_create.target_ifindex': 1, 'link_create.attach_type': enumValue('bpf_attach_type', 'BPF_XDP') });
  refused(t, () => s.call('BPF_LINK_CREATE'), 'not-load-only', /BPF_LINK_CREATE: 'link_create.attach_type' is \d+, the bridge allows only BPF_PERF_EVENT/);
  s.attr('BPF_LINK_CREATE', 256, { 'link_create.prog_fd': xdp, 'link_create.target_ifindex': 1, 'link_create.attach_type': enumValue('bpf_attach_type', 'BPF_PERF_EVENT') });
  refused(t, () => s.call('BPF_LINK_CREATE'), 'not-load-only', /'link_create.target_fd' is 1, the bridge allows only 4294967295/);
  t.equal(execFileSync('bpftool', ['link', 'list'], { encoding: 'utf8' }), linksBefore, 'bpftool link list: nothing attached');
  // libbpf's probe_perf_link() itself still reaches the kernel: EBADF means links are supported
  const tp = bridgeProgram(s, 'BPF_PROG_TYPE_TRACEPOINT');
  s.attr('BPF_LINK_CREATE', 256, { 'link_create.prog_fd': tp, 'link_create.target_fd': 0xffffffff, 'link_create.attach_type': enumValue('bpf_attach_type', 'BPF_PERF_EVENT') });
  t.equal(s.call('BPF_LINK_CREATE'), -LINUX_ERRNO.EBADF, "the feature probe: the kernel's EBADF");
  s.fds.closeAll();
});

t.test('hole 4: access() and fdinfo follow the open() allow-list', async (t) => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const warnings: string[] = [];
  const host = new HostBridge(() => memory, (_l, m) => warnings.push(m));
  const imports = host.imports() as Record<string, (...a: number[]) => number>;
  const path = (at: number, p: string) => new Uint8Array(memory.buffer).set(Buffer.from(`${p}\0`), at);
  const WASI_EACCES = 2;
  const RDONLY = 0x04000000;
  path(100, '/etc/shadow');
  t.equal(imports.access!(100, 0), -WASI_EACCES, 'access(/etc/shadow): EACCES, its existence not revealed');
  path(100, '/root/.nonexistent-kb');
  t.equal(imports.access!(100, 0), -WASI_EACCES, 'a missing file answers the same');
  path(100, '/sys/kernel/btf/vmlinux');
  t.equal(imports.access!(100, 4), 0, 'kernel BTF, on the list, is answered');
  path(100, '/proc/1/fdinfo/0');
  t.equal(imports.open!(100, RDONLY, 0), -WASI_EACCES, "another process's fdinfo: EACCES");
  path(100, '/proc/self/fdinfo/1');
  t.equal(imports.open!(100, RDONLY, 0), -WASI_EACCES, "Node's own stdout's fdinfo: EACCES");
  path(200, '/sys/kernel/btf/vmlinux');
  const fd = imports.open!(200, RDONLY, 0);
  t.ok(fd >= 0, 'a file of the module');
  path(100, `/proc/${process.pid}/fdinfo/${fd}`);
  const info = imports.open!(100, RDONLY, 0);
  t.ok(info >= 0, "fdinfo of the module's own fd opens");
  t.match(warnings.join('\n'), /access \/etc\/shadow: not on the bridge's read-only path list/);
  t.equal(host.closeAll(), 2);
});
