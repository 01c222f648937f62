// The typed AST of the dynamic-event grammar: what one line written to
// kprobe_events / uprobe_events means once parsed and checked. Every later
// stage (compiler, runtime) reads only these types, never the text.
import type { RegName } from './registers.js';
import type { CheckedFilter, EventField } from './filter/index.js';

export type { RegName } from './registers.js';

/**
 * Which kernel tracer the line belongs to: kprobe_events, uprobe_events, or
 * dynamic_events' event probes (`e`), fprobe (`f`) and tracepoint probe (`t`) events (6.5).
 */
export type Tracer = 'kprobe' | 'uprobe' | 'eprobe' | 'fprobe' | 'tprobe';

/** Base types of a fetch argument (kernel: probe_fetch_types[]). */
export type BasicType =
  | 'u8' | 'u16' | 'u32' | 'u64'
  | 's8' | 's16' | 's32' | 's64'
  | 'x8' | 'x16' | 'x32' | 'x64'
  | 'char';
export type StringType = 'string' | 'ustring' | 'symstr';
export type BaseType = BasicType | StringType | 'symbol';

export interface Bitfield {
  /** b<width>@<offset>/<container> — width and offset in bits, container in bits (8/16/32/64). */
  readonly width: number;
  readonly offset: number;
  readonly container: number;
}

export interface ArgType {
  /** The type as the kernel resolves it (default x64 for values, string for $comm and \"imm"). */
  readonly base: BaseType;
  /** Present for b<w>@<o>/<c>; base is then u<container>. */
  readonly bitfield?: Bitfield;
  /** Present for TYPE[N]. */
  readonly arrayLength?: number;
  /** True when the user wrote no :TYPE and the kernel's default applies (or the BTF type's, with btfTypeName). */
  readonly implicit: boolean;
  /** The C type the kernel's BTF gave the value (a BTF argument, member or typed $retval), e.g. "size_t". */
  readonly btfTypeName?: string;
}

/**
 * Where a dereference made from a `->`/`.` member chain reads: the struct (by
 * its C name) and the members, for CO-RE relocations. accessIndices are the
 * member indices from `root` down, through anonymous members (no leading 0).
 */
export interface MemberAccess {
  readonly root: string;
  readonly path: readonly string[];
  readonly accessIndices: readonly number[];
}

/**
 * One fetch program's source (kernel: FETCH_OP_* stage 1 and 2 ops).
 * Dereferences nest: `+8(+0(%di))` is deref{8, deref{0, reg di}}.
 */
export type FetchArg =
  | { readonly kind: 'reg'; readonly reg: RegName }
  | { readonly kind: 'stack'; readonly index: number }          // $stackN
  | { readonly kind: 'stackp' }                                 // $stack
  | { readonly kind: 'retval' }                                 // $retval
  | { readonly kind: 'comm' }                                   // $comm
  // $argN or a BTF parameter, 1-based (a tracepoint probe's counted after its hidden `void *__data`,
  // as the kernel's tprobe counts them); atEntry: read in a return probe from the entry
  | { readonly kind: 'arg'; readonly index: number; readonly atEntry?: true }
  | { readonly kind: 'imm'; readonly value: bigint }            // \IMM
  | { readonly kind: 'immstr'; readonly value: string }         // \"str"
  | { readonly kind: 'memaddr'; readonly address: bigint }      // @ADDR
  | { readonly kind: 'symbol'; readonly symbol: string; readonly offset: bigint } // @SYM[+|-offs]
  | { readonly kind: 'fileoffs'; readonly offset: bigint }      // @+FILE_OFFS (uprobe)
  | { readonly kind: 'deref'; readonly offset: bigint; readonly user: boolean; readonly inner: FetchArg; readonly member?: MemberAccess }
  | { readonly kind: 'eventfield'; readonly name: string };      // eprobe $FIELD of the attached event

/**
 * A dereference that reads a struct member found through BTF (`ptr->a.b`):
 * `offset` is the member's byte offset in the BTF it was parsed against; the
 * compiler makes it a CO-RE relocation so libbpf moves it to the running
 * kernel's layout. `path` is the member names from the struct `root`,
 * `accessIndices` their member indices there.
 */
export interface MemberAccess {
  readonly root: string;
  readonly path: readonly string[];
  readonly accessIndices: readonly number[];
  /** The module whose BTF the chain was parsed against (a module function's argument); absent: vmlinux's. */
  readonly module?: string;
}

export interface ProbeArg {
  /** Field name (user's, or the kernel's generated `argN`). */
  readonly name: string;
  /**
   * The argument's source text as the kernel keeps it and prints it back after
   * `name=`: the body with its `:type` (a text, not the `$comm` fetch).
   */
  readonly source: string;
  readonly fetch: FetchArg;
  readonly type: ArgType;
}

/** Where the probe sits. */
export type ProbePoint =
  | { readonly kind: 'symbol'; readonly module?: string; readonly symbol: string; readonly offset: bigint } // kprobe [MOD:]SYM[+offs]
  | { readonly kind: 'address'; readonly address: bigint }                                                // kprobe MEMADDR
  | { readonly kind: 'file'; readonly path: string; readonly offset: bigint; readonly refCtrOffset?: bigint } // uprobe PATH:OFFSET
  | { readonly kind: 'file-symbol'; readonly path: string; readonly symbol: string; readonly offset: bigint; readonly refCtrOffset?: bigint } // our PATH:SYMBOL[+offs]
  | { readonly kind: 'function'; readonly module?: string; readonly symbol: string }                       // fprobe [MOD:]SYM
  | { readonly kind: 'tracepoint'; readonly name: string }                                                  // tprobe TRACEPOINT
  | AttachedEvent; // eprobe SYSTEM.EVENT

/**
 * The trace event an eprobe attaches to (kernel: trace_eprobe's event_system,
 * event_name, event): its own fields as its `format` file lists them (what
 * `$FIELD` reads), and the `if FILTER` checked against those fields.
 */
export interface AttachedEvent {
  readonly kind: 'event';
  readonly system: string;
  readonly event: string;
  readonly fields: readonly EventField[];
  /** kernel: ep->filter_str, the words after `if` joined by single spaces; not read back. */
  readonly filter?: { readonly text: string; readonly checked: CheckedFilter };
}

export interface ProbeDefinition {
  readonly op: 'define';
  readonly tracer: Tracer;
  /** `r`, or `p ... %return`. */
  readonly isReturn: boolean;
  /** r<N> only; undefined means the kernel's default. */
  readonly maxactive?: number;
  readonly group: string;
  readonly event: string;
  readonly point: ProbePoint;
  readonly args: readonly ProbeArg[];
  /** The line as written (comment stripped), for error messages and metadata. */
  readonly source: string;
}

export interface ProbeRemoval {
  readonly op: 'remove';
  readonly tracer: Tracer;
  /** Undefined when the line names no group (`-:EVENT` matches any group). */
  readonly group?: string;
  /** Empty for `-:GRP/`, which the kernel reads as every event of GRP. */
  readonly event: string;
  /**
   * Words after `-:[GRP/]EVENT`, if any: the kernel then removes only a probe
   * whose place and arguments match them (kernel: dyn_event_release).
   */
  readonly args?: readonly string[];
  readonly source: string;
}

export type ProbeCommand = ProbeDefinition | ProbeRemoval;
