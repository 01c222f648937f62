// The qemu-system-x86_64 command line for one throwaway guest. Each choice
// is a measured fact of shared/design/kernel-vm.md or of this harness.
import type { GuestImages } from './images.js';

export const QEMU = 'qemu-system-x86_64';

/** Files on the host side of one boot. */
export interface BootPaths {
  /** Read-write 9p share, mounted in the guest at this same path. */
  xchg: string;
  console: string;
  stdout: string;
  stderr: string;
}

export interface MachineShape {
  /** Guest RAM in MiB: node plus bpftool want a few hundred; qemu's own RSS follows. */
  memoryMiB: number;
  /** vCPUs: with thread=multi each is a host thread. */
  cpus: number;
}

export const DEFAULT_SHAPE: MachineShape = { memoryMiB: 1024, cpus: 2 };

// Kernel command line. loglevel=5: every console byte is emulated serial
// I/O, so boot's notices and infos stay off the console, but warnings
// print, and with them the register and stack dumps of a soft lockup or a
// WARN (KERN_DEFAULT, which `quiet` hid: a guest that hung in CI showed
// only its "BUG: soft lockup" lines). panic=-1 with -no-reboot: a panic
// ends qemu at once instead of hanging until the timeout. kbpf.xchg (a
// dotted, unknown module parameter) is ignored by the kernel and not handed
// to init, but /init reads it from /proc/cmdline; guest tests look for it too.
// kbpf.modules: where /init finds a modules tree the host has not installed.
function kernelArgs(images: GuestImages, p: BootPaths): string {
  const modules = images.modules === undefined ? [] : [`kbpf.modules=${images.modules}`];
  return ['console=ttyS0', 'loglevel=5', 'panic=-1', `kbpf.xchg=${p.xchg}`, ...modules].join(' ');
}

export function qemuArgs(images: GuestImages, p: BootPaths, shape: MachineShape = DEFAULT_SHAPE): string[] {
  return [
    // KVM hangs here (the host is itself a guest): TCG, one thread per vCPU,
    // a large translation cache; -cpu max offers RDRAND, so the guest's
    // crng is ready at once and node does not wait for entropy.
    '-accel', 'tcg,thread=multi,tb-size=256', '-cpu', 'max',
    // q35 booted a little faster than the default pc machine here.
    '-machine', 'q35', '-m', String(shape.memoryMiB), '-smp', String(shape.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-nic', 'none',
    // The uncompressed ELF boots through its PVH note: about twice as fast
    // under TCG as the bzImage, which would decompress itself in emulation.
    '-kernel', images.kernel, '-initrd', images.initramfs, '-append', kernelArgs(images, p),
    '-serial', `file:${p.console}`,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${p.xchg},mount_tag=xchg,security_model=none,multidevs=remap`,
    // Guest output to qemu's stdio hung; file-backed ports work, and qemu
    // writes them as data arrives, so what a crashed guest printed survives.
    '-device', 'virtio-serial-pci',
    '-chardev', `file,id=kbpfout,path=${p.stdout}`, '-device', 'virtserialport,chardev=kbpfout,name=kbpf.stdout',
    '-chardev', `file,id=kbpferr,path=${p.stderr}`, '-device', 'virtserialport,chardev=kbpferr,name=kbpf.stderr',
  ];
}
