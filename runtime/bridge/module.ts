// The libbpf wasm module (build/wasm/libbpf.wasm, built by mk/wasm.mk):
// compiled once per process. An instance serves one object at a time; when
// the object is closed (and every fd it held with it) the instance goes back
// to a small pool, so the next object skips instantiation and finds libbpf's
// kernel feature probes already cached, as native libbpf does in a process.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { HostBridge } from './host.js';
import type { Logger } from './logger.js';
import { wasmBuildFile } from './paths.js';
import { wasiImports } from './wasi.js';
import { mark } from '../../lib/timing.js';

/** What glue.c and libbpf export (pointers are wasm offsets). */
export interface LibbpfExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  kb_init(): void;
  kb_errno(): number;
  kb_open_mem(buf: number, size: number, name: number, kconfig: number, btfCustomPath: number): number;
  malloc(n: number): number;
  free(p: number): void;
  libbpf_strerror(err: number, buf: number, size: number): number;
  bpf_object__name(obj: number): number;
  bpf_object__load(obj: number): number;
  bpf_object__close(obj: number): void;
  bpf_object__next_program(obj: number, prev: number): number;
  bpf_object__next_map(obj: number, prev: number): number;
  bpf_program__name(p: number): number;
  bpf_program__section_name(p: number): number;
  bpf_program__insn_cnt(p: number): number;
  bpf_program__fd(p: number): number;
  bpf_program__type(p: number): number;
  bpf_program__autoload(p: number): number;
  bpf_program__set_autoload(p: number, on: number): number;
  bpf_program__set_log_buf(p: number, buf: number, size: number): number;
  bpf_program__set_log_level(p: number, level: number): number;
  bpf_program__set_expected_attach_type(p: number, type: number): number;
  bpf_map__name(m: number): number;
  bpf_map__fd(m: number): number;
  bpf_map__type(m: number): number;
  bpf_map__key_size(m: number): number;
  bpf_map__value_size(m: number): number;
  bpf_map__max_entries(m: number): number;
  bpf_map__map_flags(m: number): number;
}

export interface LibbpfInstance {
  exports: LibbpfExports;
  host: HostBridge;
  memory(): WebAssembly.Memory;
}

let compiled: WebAssembly.Module | undefined;

export function libbpfModule(): WebAssembly.Module {
  if (!compiled) {
    mark('module load (runtime)');
    // Liftoff only, no TurboFan tier-up: a run calls libbpf for ~100 ms, too
    // short for the optimizing compiles of its hot functions to pay back. Measured
    // on a one-uprobe trace, Node 20: libbpf load 59 ms instead of 104-211, CPU -60 ms,
    // peak RSS 7.5 MiB lower; Node 22 and 24 (whose V8 tiers up lazily) the same either way.
    // Not where Liftoff is turned off on purpose (the QEMU guest runs node
    // --no-liftoff: Liftoff code crashed at random under TCG).
    if (!process.execArgv.includes('--no-liftoff')) setFlagsFromString('--liftoff-only');
    compiled = new WebAssembly.Module(readFileSync(wasmBuildFile('libbpf.wasm')));
    mark('wasm compile');
  }
  return compiled;
}

const idle: LibbpfInstance[] = [];
const POOL_SIZE = 2;

/** An instance for one object: a pooled one, or a new one. */
export function acquireLibbpf(log: Logger): LibbpfInstance {
  const inst = idle.pop();
  if (!inst) return instantiateLibbpf(log);
  inst.host.reset(log);
  return inst;
}

/** Returns an instance whose object is closed; its fds must all be closed already. */
export function releaseLibbpf(inst: LibbpfInstance): void {
  if (inst.host.fds.size === 0 && idle.length < POOL_SIZE && !idle.includes(inst)) idle.push(inst);
}

/** Drops an instance libbpf can no longer be trusted with (it trapped or was stopped); its fds must be closed already. */
export function discardLibbpf(inst: LibbpfInstance): void {
  const i = idle.indexOf(inst);
  if (i >= 0) idle.splice(i, 1);
}

/**
 * Lets go of the compiled module and the pooled instances (none of their
 * objects may be open), so the garbage collector can free their code and
 * memory; the next object compiles the module again.
 */
export function forgetLibbpf(): void {
  idle.length = 0;
  compiled = undefined;
}

export function instantiateLibbpf(log: Logger): LibbpfInstance {
  const module = libbpfModule();
  let exports: LibbpfExports | undefined;
  const memory = (): WebAssembly.Memory => {
    if (!exports) throw new Error('libbpf wasm: memory used before instantiation');
    return exports.memory;
  };
  const host = new HostBridge(memory, log);
  const wanted = WebAssembly.Module.imports(module).filter((i) => i.module === 'wasi_snapshot_preview1').map((i) => i.name);
  const instance = new WebAssembly.Instance(module, {
    kprobe_bpf: host.imports() as WebAssembly.ModuleImports,
    wasi_snapshot_preview1: wasiImports(memory, log, wanted),
  });
  exports = instance.exports as unknown as LibbpfExports;
  exports._initialize();
  exports.kb_init();
  mark('wasm instantiate');
  return { exports, host, memory };
}
