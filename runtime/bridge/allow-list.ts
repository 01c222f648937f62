// The bpf(2) commands the wasm libbpf may issue through the bridge, and for
// each pointer field (the list of which comes from linux/bpf.h, see uapi.ts)
// how far the memory it points to extends, so it can be bounds-checked
// against the wasm memory before it is translated. A command missing here is
// refused; a pointer field of an allowed command missing here must be NULL.
// Extents follow the kernel's own reading of each attr (kernel/bpf/syscall.c,
// kernel/bpf/verifier.c, kernel/bpf/btf.c).

export type Extent =
  /** `len` bytes, `len` being another field of the same struct */
  | { kind: 'bytes'; len: string }
  /** `count` records of `recSize` bytes (a field name or a constant) */
  | { kind: 'records'; count: string; recSize: string | number }
  /** a NUL-terminated string of at most `max` bytes */
  | { kind: 'cstring'; max: number }
  /** the map's key (key_size of the map named by map_fd) */
  | { kind: 'mapKey' }
  /** the map's value (value_size, per-CPU maps: rounded to 8 × possible CPUs) */
  | { kind: 'mapValue' }
  /** BPF_OBJ_GET_INFO_BY_FD's info struct, whose own pointers depend on the fd's kind */
  | { kind: 'info' };

export interface CommandRule {
  /** The header names no union member for this command; it reads this one's. */
  layoutOf?: string;
  /**
   * Fields that must hold exactly these values: a number (u32, -1 written
   * as 0xffffffff) or an enumerator of linux/bpf.h. Pins a command to the
   * one call libbpf makes with it.
   */
  require?: Readonly<Record<string, number | { enum: string; name: string }>>;
  /** The fd the command returns must be a kernel BTF object (vmlinux or a module's). */
  returnsKernelBtf?: boolean;
  /** The attr must reach the end of this field (the command's last required one). */
  minField: string;
  pointers: Readonly<Record<string, Extent>>;
  /** The command returns a new fd, which the bridge then owns. */
  returnsFd: boolean;
}

const ELEM_KEY: Extent = { kind: 'mapKey' };
const ELEM_VALUE: Extent = { kind: 'mapValue' };

export const COMMAND_RULES: Readonly<Record<string, CommandRule>> = {
  BPF_MAP_CREATE: { minField: 'max_entries', pointers: {}, returnsFd: true },
  BPF_MAP_LOOKUP_ELEM: { minField: 'value', pointers: { key: ELEM_KEY, value: ELEM_VALUE }, returnsFd: false },
  BPF_MAP_UPDATE_ELEM: { minField: 'value', pointers: { key: ELEM_KEY, value: ELEM_VALUE }, returnsFd: false },
  BPF_MAP_DELETE_ELEM: { minField: 'key', pointers: { key: ELEM_KEY }, returnsFd: false },
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: { minField: 'value', pointers: { key: ELEM_KEY, value: ELEM_VALUE }, returnsFd: false },
  // kernel: BPF_MAP_GET_NEXT_KEY_LAST_FIELD next_key, BPF_MAP_FREEZE_LAST_FIELD map_fd
  BPF_MAP_GET_NEXT_KEY: { layoutOf: 'BPF_MAP_LOOKUP_ELEM', minField: 'next_key', pointers: { key: ELEM_KEY, next_key: ELEM_KEY }, returnsFd: false },
  BPF_MAP_FREEZE: { layoutOf: 'BPF_MAP_LOOKUP_ELEM', minField: 'map_fd', pointers: {}, returnsFd: false },
  BPF_PROG_LOAD: {
    minField: 'license',
    pointers: {
      insns: { kind: 'records', count: 'insn_cnt', recSize: 8 }, // sizeof(struct bpf_insn)
      license: { kind: 'cstring', max: 128 }, // kernel: strncpy_from_bpfptr(license, ..., sizeof(license) - 1), char license[128]
      log_buf: { kind: 'bytes', len: 'log_size' },
      func_info: { kind: 'records', count: 'func_info_cnt', recSize: 'func_info_rec_size' },
      line_info: { kind: 'records', count: 'line_info_cnt', recSize: 'line_info_rec_size' },
      core_relos: { kind: 'records', count: 'core_relo_cnt', recSize: 'core_relo_rec_size' },
      // fd_array has no length in the attr: libbpf's loader does not use it, so it must be NULL.
    },
    returnsFd: true,
  },
  BPF_BTF_LOAD: {
    minField: 'btf_size',
    pointers: { btf: { kind: 'bytes', len: 'btf_size' }, btf_log_buf: { kind: 'bytes', len: 'btf_log_size' } },
    returnsFd: true,
  },
  BPF_OBJ_GET_INFO_BY_FD: { minField: 'info.info', pointers: { 'info.info': { kind: 'info' } }, returnsFd: false },
  // libbpf.c load_module_btfs() (kernel module BTF, for CO-RE relocations and
  // __ksym externs defined in modules) walks the BTF ids and opens each one
  // through btf.c btf__load_from_kernel_by_id(). libbpf asks for no other
  // object by id on the load path: PROG/MAP/LINK_GET_FD_BY_ID are refused, and
  // the BTF fd must be the kernel's own (not another process's program BTF).
  BPF_BTF_GET_NEXT_ID: { minField: 'next_id', pointers: {}, returnsFd: false },
  BPF_BTF_GET_FD_BY_ID: { minField: 'btf_id', pointers: {}, returnsFd: true, returnsKernelBtf: true },
  BPF_PROG_BIND_MAP: { minField: 'prog_bind_map.map_fd', pointers: {}, returnsFd: false },
  // Load-only: attaching is the TypeScript runtime's, so the one link libbpf
  // may ask for is its feature probe libbpf.c probe_perf_link(),
  // bpf_link_create(prog_fd, -1, BPF_PERF_EVENT, NULL), which the kernel
  // answers EBADF (links supported) or EINVAL: it can never attach anything.
  // uprobe_multi links (path, offsets, ref_ctr_offsets, cookies, pid) are
  // made by the runtime itself (attach/uprobe-multi.ts), never by the module,
  // so they have no entry here (the loader gives its uprobe programs their
  // attach type through libbpf: bpf_program__set_expected_attach_type).
  BPF_LINK_CREATE: {
    minField: 'link_create.attach_type',
    pointers: {},
    returnsFd: true,
    require: { 'link_create.attach_type': { enum: 'bpf_attach_type', name: 'BPF_PERF_EVENT' }, 'link_create.target_fd': 0xffffffff, 'link_create.flags': 0 },
  },
};

/** Pointers inside the structs BPF_OBJ_GET_INFO_BY_FD fills, by struct. */
export const INFO_POINTERS: Readonly<Record<string, Readonly<Record<string, Extent>>>> = {
  bpf_prog_info: {
    jited_prog_insns: { kind: 'bytes', len: 'jited_prog_len' },
    xlated_prog_insns: { kind: 'bytes', len: 'xlated_prog_len' },
    map_ids: { kind: 'records', count: 'nr_map_ids', recSize: 4 },
    jited_ksyms: { kind: 'records', count: 'nr_jited_ksyms', recSize: 8 },
    jited_func_lens: { kind: 'records', count: 'nr_jited_func_lens', recSize: 4 },
    func_info: { kind: 'records', count: 'nr_func_info', recSize: 'func_info_rec_size' },
    line_info: { kind: 'records', count: 'nr_line_info', recSize: 'line_info_rec_size' },
    jited_line_info: { kind: 'records', count: 'nr_jited_line_info', recSize: 'jited_line_info_rec_size' },
    prog_tags: { kind: 'records', count: 'nr_prog_tags', recSize: 8 }, // BPF_TAG_SIZE
  },
  bpf_map_info: {},
  bpf_btf_info: {
    btf: { kind: 'bytes', len: 'btf_size' },
    name: { kind: 'bytes', len: 'name_len' },
  },
  bpf_link_info: {},
};

/** What /proc/self/fd/N links to for each kind of bpf fd (kernel: anon_inode names in syscall.c, btf.c). */
export const FD_KIND_INFO: Readonly<Record<string, string>> = {
  'anon_inode:bpf-prog': 'bpf_prog_info',
  'anon_inode:bpf-map': 'bpf_map_info',
  'anon_inode:btf': 'bpf_btf_info',
  'anon_inode:bpf_link': 'bpf_link_info',
};

/**
 * Attr fields that hold an fd (map_fd, prog_fd, btf_fd, target_fd, ...): by
 * the UAPI's naming, every non-pointer field whose name ends in "fd".
 */
export function isFdField(name: string, pointer: boolean): boolean {
  return !pointer && /(^|[._])\w*fd$/.test(name);
}

/** Map types whose values are per-CPU arrays (kernel: bpf_map_value_size()). */
export const PERCPU_MAP_TYPES = ['BPF_MAP_TYPE_PERCPU_HASH', 'BPF_MAP_TYPE_PERCPU_ARRAY', 'BPF_MAP_TYPE_LRU_PERCPU_HASH', 'BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE'];
