// errno and open flags across the bridge, judged by independent tables:
// Node's os/fs constants (Linux numbers) and wasi-libc's own <wasi/api.h>
// (wasi numbers), read at test time.
import { constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import t from 'tap';
import { toLinuxErrno, toLinuxOpenFlags, toWasiErrno, toWasiOpenFlags } from '../../runtime/bridge/errno.js';

const API_H = '/usr/include/wasm32-wasi/wasi/api.h';

t.test('every wasi errno maps to the Linux errno of the same name and back', { skip: existsSync(API_H) ? undefined : `${API_H} missing (package wasi-libc)` }, async (t) => {
  const wasi = new Map<string, number>();
  for (const m of readFileSync(API_H, 'utf8').matchAll(/#define __WASI_ERRNO_([A-Z0-9]+) \(UINT16_C\((\d+)\)\)/g)) wasi.set(m[1]!, Number(m[2]));
  t.ok(wasi.size > 70, 'wasi errno table read');
  const linux = constants.errno as Record<string, number>;
  let checked = 0;
  for (const [name, w] of wasi) {
    const l = linux[`E${name}`] ?? (name === 'NOTSUP' ? linux.EOPNOTSUPP : undefined);
    if (name === 'SUCCESS' || name === 'NOTCAPABLE' || l === undefined) continue;
    t.equal(toWasiErrno(l), w, `Linux E${name} (${l}) -> wasi ${w}`);
    t.equal(toLinuxErrno(w), l, `wasi ${w} -> Linux E${name} (${l})`);
    checked++;
  }
  t.ok(checked >= 70, `${checked} errnos checked`);
  t.equal(toWasiErrno(524), 524, "the kernel's internal ENOTSUPP keeps its number (libbpf's probes test -524)");
  t.equal(toLinuxErrno(1061), linux.ENODATA, 'ENODATA, which wasi lacks, crosses both ways');
  t.equal(toWasiErrno(linux.ENODATA!), 1061);
});

t.test('open flags: wasi-libc encoding to Linux and back', async (t) => {
  const L = fsConstants as unknown as Record<string, number>;
  const O_CLOEXEC = 0o2000000;
  const W = { RDONLY: 0x04000000, WRONLY: 0x10000000, CREAT: 0x1000, EXCL: 0x4000, TRUNC: 0x8000, APPEND: 0x1, NONBLOCK: 0x4, DIRECTORY: 0x2000, NOFOLLOW: 0x01000000 };
  t.equal(toLinuxOpenFlags(W.RDONLY), L.O_RDONLY! | O_CLOEXEC, 'O_RDONLY, always close-on-exec');
  t.equal(toLinuxOpenFlags(W.WRONLY | W.CREAT | W.TRUNC), L.O_WRONLY! | L.O_CREAT! | L.O_TRUNC! | O_CLOEXEC);
  t.equal(toLinuxOpenFlags(W.RDONLY | W.WRONLY | W.APPEND | W.EXCL), L.O_RDWR! | L.O_APPEND! | L.O_EXCL! | O_CLOEXEC);
  t.equal(toLinuxOpenFlags(W.RDONLY | W.DIRECTORY | W.NOFOLLOW | W.NONBLOCK), L.O_DIRECTORY! | L.O_NOFOLLOW! | L.O_NONBLOCK! | O_CLOEXEC);
  t.throws(() => toLinuxOpenFlags(W.RDONLY | 0x40000000), /unknown wasi bits 0x40000000/, 'bits we do not know are refused');
  t.equal(toWasiOpenFlags(L.O_RDWR! | L.O_APPEND!), W.RDONLY | W.WRONLY | W.APPEND, 'F_GETFL answers go back in wasi encoding');
});
