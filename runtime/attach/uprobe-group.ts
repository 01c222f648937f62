// Many uprobe events behind one uprobe_multi link. Closing a link waits for
// one uprobe_unregister_sync() however many sites it carries, so a session's
// events detach in one wait instead of one per event. A link carries one
// program, so the link's program is a dispatcher: it reads the site's
// bpf_cookie (the event's slot) and tail-calls the event's own program from
// a PROG_ARRAY, leaving the event programs as compiled. The callee runs with
// the same context and the same run context (current->bpf_ctx), so its
// bpf_get_func_ip and its cookie are the site's, as on a link of its own.
//
// What may share a link (kernel/trace/bpf_trace.c bpf_uprobe_multi_link_attach,
// kernel/bpf/core.c __bpf_prog_map_compatible):
// - one path (the link opens one file) and one direction (flags carry
//   BPF_F_UPROBE_MULTI_RETURN for the whole link);
// - programs a PROG_ARRAY accepts beside its owner, the dispatcher: the same
//   type, JIT state, expected_attach_type (6.17+) and sleepable-ness (6.18+),
//   so sleepable and non-sleepable programs never share a dispatcher.
// A kernel refusing the dispatcher or a slot (an EINVAL from the verifier or
// the map update) gets one link per event for that group, as before: 6.18
// refuses a sleepable program any PROG_ARRAY (the verifier's list of maps
// sleepable programs may use), so sleepable uprobes keep a link each there.
//
// The link registers its sites in array order, as separate links register in
// creation order, so events on one site keep the order of the kernel's
// uprobe consumers when the members keep the session's attach order
// (planUprobeLinks).
import { closeAll } from '../../lib/close-all.js';
import { encode, Pseudo, R0, R1, R2, R3, R6 } from '../../bpf/insn.js';
import { callHelper, exit, ldImm64, mov32Reg, mov64Imm, mov64Reg } from '../../bpf/asm.js';
import { closeFd, closeFdAsync, mapUpdateU32, SysError } from '../sys/index.js';
import { bpf } from '../sys/bpf.js';
import { enumValue } from '../bridge/uapi.js';
import { ProbeSetupError } from './errors.js';
import type { ProbeAttachment } from './probe.js';
import { attrFor, createLink, loadUprobeMultiProgram, UprobeMultiLink } from './uprobe-multi.js';
import { describeUprobe, type UprobeTarget } from './uprobe.js';

/** Environment switch that keeps one uprobe_multi link per event (tests, bench): KPROBE_BPF_UPROBE_GROUP=0. */
export const UPROBE_GROUP_ENV = 'KPROBE_BPF_UPROBE_GROUP';

/** Whether uprobe_multi events are to share links (unless KPROBE_BPF_UPROBE_GROUP=0). */
export const uprobeGroupsWanted = (): boolean => process.env[UPROBE_GROUP_ENV] !== '0';

/** One event's program on one site, to be put on a shared link. */
export interface GroupMember {
  readonly target: UprobeTarget;
  /** Loaded for BPF_TRACE_UPROBE_MULTI. */
  readonly progFd: number;
  /** Loaded with BPF_F_SLEEPABLE. */
  readonly sleepable: boolean;
}

const linkKey = (m: GroupMember): string => `${m.target.path}\0${m.target.isReturn}\0${m.sleepable}`;
const siteKey = (m: GroupMember): string => `${m.target.path}\0${m.target.offset}\0${m.target.isReturn}`;

/**
 * The links to make, in order, each with its members in the order given
 * (the session's attach order). A member joins the last link of its kind
 * unless a later link already has a member on its site: it would then
 * register before that one, reversing their order on the site, so it starts
 * a link of its own after it.
 */
export function planUprobeLinks<T extends GroupMember>(members: readonly T[]): T[][] {
  const links: { key: string; members: T[]; sites: Set<string> }[] = [];
  for (const m of members) {
    const key = linkKey(m);
    const site = siteKey(m);
    let at = -1;
    for (let i = links.length - 1; i >= 0; i--) {
      if (links[i]!.key === key) { at = i; break; }
    }
    const blocked = at >= 0 && links.slice(at + 1).some((l) => l.sites.has(site));
    if (at < 0 || blocked) {
      links.push({ key, members: [m], sites: new Set([site]) });
    } else {
      links[at]!.members.push(m);
      links[at]!.sites.add(site);
    }
  }
  return links.map((l) => l.members);
}

/** bpf(BPF_MAP_CREATE) of a PROG_ARRAY of n slots; returns its fd. */
function createProgArray(n: number): number {
  const { attr, dv, at, value } = attrFor('BPF_MAP_CREATE');
  dv.setUint32(at('map_type'), enumValue('bpf_map_type', 'BPF_MAP_TYPE_PROG_ARRAY'), true);
  dv.setUint32(at('key_size'), 4, true);
  dv.setUint32(at('value_size'), 4, true);
  dv.setUint32(at('max_entries'), n, true);
  attr.set(new TextEncoder().encode('kpb_um_slots'), at('map_name'));
  return bpf(value, attr, 'BPF_MAP_CREATE uprobe_multi slots');
}

/**
 * The dispatcher: tail-calls slots[bpf_get_attach_cookie()]. A slot it cannot
 * reach (none in practice: every cookie is a filled slot) falls through to
 * return 0, which a uprobe ignores.
 */
function dispatcherCode(slotsFd: number): Uint8Array {
  return encode([
    mov64Reg(R6, R1),
    callHelper('get_attach_cookie'),
    mov32Reg(R3, R0),
    mov64Reg(R1, R6),
    { ...ldImm64(R2, BigInt(slotsFd)), src: Pseudo.MAP_FD },
    callHelper('tail_call'),
    mov64Imm(R0, 0),
    exit(),
  ]);
}

/** Why the kernel refused a (sleepable or not) dispatcher, once per process: it will refuse the next one too. */
const refused = new Map<boolean, string>();

/** The dispatcher and its filled slots; closes what it made if the kernel refuses a step. */
function loadDispatcher(members: readonly GroupMember[], sleepable: boolean): { prog: number; slots: number } {
  const slots = createProgArray(members.length);
  let prog = -1;
  try {
    prog = loadUprobeMultiProgram(dispatcherCode(slots), sleepable, 'kpb_um_dispatch');
    members.forEach((m, i) => mapUpdateU32(slots, i, m.progFd));
    return { prog, slots };
  } catch (e) {
    closeAll([...(prog >= 0 ? [() => closeFd(prog)] : []), () => closeFd(slots)]);
    throw e;
  }
}

/**
 * One uprobe_multi link for members of one path, direction and
 * sleepable-ness (planUprobeLinks), through a dispatcher; one link per member
 * when the kernel refuses the dispatcher (`refusal` says why) or there is
 * one member (nothing to share, and no tail call on its hits).
 */
export class UprobeGroupLink implements ProbeAttachment {
  readonly kind: 'uprobe' | 'uretprobe';
  readonly description: string;
  /** Why the members got a link each although they could share one. */
  refusal: string | undefined;
  private link = -1;
  /** The dispatcher and its PROG_ARRAY, closed after the link. */
  private owned: number[] = [];
  private perMember: UprobeMultiLink[] = [];

  constructor(private readonly members: readonly GroupMember[], private readonly pid?: number) {
    const first = members[0];
    if (!first) throw new ProbeSetupError('uprobe_multi link: no uprobe to attach');
    if (members.some((m) => linkKey(m) !== linkKey(first))) throw new ProbeSetupError(`uprobe_multi link: ${members.map((m) => describeUprobe(m.target)).join(', ')} cannot share one link`);
    this.kind = first.target.isReturn ? 'uretprobe' : 'uprobe';
    this.description = `${this.kind} ${members.map((m) => describeUprobe(m.target)).join(', ')} (uprobe_multi link)`;
  }

  get fds(): readonly number[] {
    return this.link >= 0 ? [this.link] : this.perMember.flatMap((l) => l.fds);
  }

  /** Whether the members share one link (after enable()). */
  get shared(): boolean { return this.link >= 0; }

  setBpf(): void {
    throw new ProbeSetupError(`${this.description}: the link runs its members' programs`);
  }

  /** Creates the link(s): the probes are live from then on. */
  enable(): void {
    if (this.link >= 0 || this.perMember.length > 0) return;
    if (this.members.length === 1) return this.linkEach();
    const sleepable = this.members[0]!.sleepable;
    this.refusal = refused.get(sleepable);
    if (this.refusal !== undefined) return this.linkEach();
    let d: { prog: number; slots: number };
    try {
      d = loadDispatcher(this.members, sleepable);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      // 6.18: a sleepable program may not use a PROG_ARRAY (verifier.c check_map_prog_compatibility)
      this.refusal = e.message;
      refused.set(sleepable, e.message);
      return this.linkEach();
    }
    this.owned = [d.prog, d.slots];
    const t = this.members.map((m) => m.target);
    const refs = t.some((x) => x.refCtrOffset !== undefined) ? t.map((x) => x.refCtrOffset ?? 0n) : undefined;
    try {
      this.link = createLink(d.prog, t[0]!.path, {
        offsets: t.map((x) => x.offset),
        ...(refs ? { refCtrOffsets: refs } : {}),
        cookies: t.map((_, i) => BigInt(i)),
        isReturn: t[0]!.isReturn,
        ...(this.pid !== undefined ? { pid: this.pid } : {}),
      });
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private linkEach(): void {
    try {
      for (const m of this.members) {
        const l = new UprobeMultiLink([m.target], this.pid);
        l.setBpf(m.progFd);
        l.enable();
        this.perMember.push(l);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  disable(): void { this.close(); }

  count(): bigint { return 0n; }

  /** What is open, handed over to be closed: from then on the group is closed (idempotent). */
  private take(): { link: number; owned: number[]; each: UprobeMultiLink[] } {
    const open = { link: this.link, owned: this.owned, each: this.perMember };
    this.link = -1;
    this.owned = [];
    this.perMember = [];
    return open;
  }

  close(): void {
    const { link, owned, each } = this.take();
    closeAll([...(link >= 0 ? [() => closeFd(link)] : []), ...each.map((l) => () => l.close()), ...owned.map((fd) => () => closeFd(fd))]);
  }

  async closeAsync(): Promise<void> {
    const { link, owned, each } = this.take();
    // the link (or each member's) waits out the kernel's synchronisation off this thread; the dispatcher and
    // its slots are freed by the kernel once the link lets go of them, so their closes do not wait
    const closed = await Promise.allSettled([...(link >= 0 ? [closeFdAsync(link)] : []), ...each.map((l) => l.closeAsync())]);
    closeAll([...closed.map((r) => () => { if (r.status === 'rejected') throw r.reason; }), ...owned.map((fd) => () => closeFd(fd))]);
  }
}
