// libbpf's messages carry strerror's text and errno number from inside the
// wasm module, where the numbers are wasi's: they reach the user with the
// Linux errno name instead, and with one "libbpf: " prefix.
import t from 'tap';
import { libbpfText } from '../../runtime/bridge/logger.js';

t.test("wasi's EPERM (63) in libbpf's probe message reads EPERM", async (t) => {
  const raw = "libbpf: Error in bpf_object__probe_loading():Operation not permitted(63). Couldn't load trivial BPF program.\n";
  t.equal(libbpfText(raw), "libbpf: Error in bpf_object__probe_loading():Operation not permitted (EPERM). Couldn't load trivial BPF program.\n");
});

t.test("negative numbers (map creation) and wasi's EACCES (2) and EINVAL (28)", async (t) => {
  t.equal(libbpfText("libbpf: map 'events': failed to create: Permission denied(-2)\n"), "libbpf: map 'events': failed to create: Permission denied (EACCES)\n");
  t.equal(libbpfText('libbpf: Error in bpf_create_map_xattr(m):Invalid argument(-28). Retrying without BTF.'), 'libbpf: Error in bpf_create_map_xattr(m):Invalid argument (EINVAL). Retrying without BTF.');
});

t.test('numbers that are not errnos are left alone', async (t) => {
  const s = 'libbpf: failed to get section(3) header from x; relo #1: <byte_off> (0) at insn #4';
  t.equal(libbpfText(s), s);
});
