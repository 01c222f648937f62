// Struct member accesses (`ptr->a.b`, parsed against some kernel's BTF) as
// CO-RE accesses: the local types that describe the path, with the compile-time
// offsets, for libbpf to match against the running kernel's BTF at load
// (bpf/btf-core.ts writes them). The BTF read here is the one the line was
// checked against: the running kernel's, or another's (--btf).
import { Kind, type BtfType } from '../bpf/btf.js';
import { kernelBtfAt, type KernelBtf } from '../bpf/btf-kernel.js';
import type { CoreAccess, CoreType } from '../bpf/btf-core.js';
import type { MemberAccess } from '../grammar/ast.js';
import { VMLINUX_BTF } from './trampoline-btf.js';

export class CoreAccessError extends Error {}

/** Resolves member accesses to CO-RE accesses. */
export interface CoreTypes {
  access(member: MemberAccess): CoreAccess;
}

const COMPOSITE = new Set<number>([Kind.STRUCT, Kind.UNION]);

/**
 * The composite named `name` (struct first, as C's `struct name`); in a
 * module's BTF, vmlinux's (`base`) types first, as libbpf's
 * btf__find_by_name_kind searches split BTF.
 */
function composite(btf: KernelBtf, name: string, base: KernelBtf | undefined): BtfType | undefined {
  for (const kind of [Kind.STRUCT, Kind.UNION]) {
    const id = base?.findNamed(kind, name) ?? btf.findNamed(kind, name);
    if (id !== undefined) return btf.type(id);
  }
  return undefined;
}

/** Follows CONST/VOLATILE/TYPEDEF/RESTRICT/TYPE_TAG to the underlying type. */
const resolve = (btf: KernelBtf, id: number): BtfType => btf.skipModifiers(id).type;

/** A member's type, reduced to what libbpf compares for the access's last field. */
function leaf(btf: KernelBtf, id: number, depth = 0): CoreType {
  const t = resolve(btf, id);
  switch (t.kind) {
    case Kind.INT: return { kind: 'int', name: t.name, size: t.size ?? 0, signed: ((t.int?.encoding ?? 0) & 1) === 1 };
    case Kind.ENUM:
    case Kind.ENUM64: return { kind: 'enum', name: t.name, size: t.size ?? 4 };
    case Kind.PTR: return { kind: 'ptr' };
    case Kind.ARRAY: {
      if (depth > 8 || !t.array) throw new CoreAccessError(`BTF type ${id}: array too deep`);
      return { kind: 'array', elem: leaf(btf, t.array.type, depth + 1), nelems: t.array.nelems };
    }
    case Kind.STRUCT:
    case Kind.UNION: return { kind: t.kind === Kind.STRUCT ? 'struct' : 'union', name: t.name, size: t.size ?? 0 };
    default: throw new CoreAccessError(`BTF type ${id} (kind ${t.kind}) cannot be a CO-RE field`);
  }
}

/** Member offset in bits (kind_flag composites keep a bitfield size in the top 8 bits). */
const bitOffsetOf = (owner: BtfType, raw: number): number => (owner.kindFlag ? raw & 0xffffff : raw);

interface Step { owner: BtfType; name: string; bitOffset: number; type: number }

/** The members from `owner` down to `name`, through anonymous struct/union members as the kernel's search does. */
function findMember(btf: KernelBtf, owner: BtfType, name: string, depth = 0): Step[] | undefined {
  for (const m of owner.members ?? []) {
    if (m.name === name) return [{ owner, name: m.name, bitOffset: bitOffsetOf(owner, m.bitOffset), type: m.type }];
  }
  if (depth > 8) return undefined;
  for (const m of owner.members ?? []) {
    if (m.name !== '') continue;
    const inner = resolve(btf, m.type);
    if (!COMPOSITE.has(inner.kind)) continue;
    const rest = findMember(btf, inner, name, depth + 1);
    if (rest) return [{ owner, name: '', bitOffset: bitOffsetOf(owner, m.bitOffset), type: m.type }, ...rest];
  }
  return undefined;
}

/** root.path[0].path[1]... as a CO-RE access over one-member local types (`btf` a module's: `base` is vmlinux's). */
export function coreAccessIn(btf: KernelBtf, member: MemberAccess, base?: KernelBtf): CoreAccess {
  const root = composite(btf, member.root, base);
  if (!root) throw new CoreAccessError(`BTF has no struct or union ${member.root}`);
  const steps: Step[] = [];
  let owner: BtfType = root;
  member.path.forEach((name, i) => {
    const found = findMember(btf, owner, name);
    if (!found) throw new CoreAccessError(`${member.root}: no member ${member.path.slice(0, i + 1).join('.')}`);
    steps.push(...found);
    owner = resolve(btf, found[found.length - 1]!.type);
    if (i < member.path.length - 1 && !COMPOSITE.has(owner.kind)) throw new CoreAccessError(`${member.root}.${member.path.slice(0, i + 1).join('.')} is not a struct or union`);
  });
  // inside out: the last member's own type, then each owner with its one member
  let type: CoreType = leaf(btf, steps[steps.length - 1]!.type);
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    type = { kind: s.owner.kind === Kind.UNION ? 'union' : 'struct', name: s.owner.name, size: s.owner.size ?? 0, member: { name: s.name, bitOffset: s.bitOffset, type } };
  }
  return { root: type as CoreAccess['root'] };
}

/**
 * CoreTypes over a kernel's BTF (default the running kernel's; `--btf` FILE
 * or DIR), read lazily on first use (bpf/btf-kernel.ts); a member path found
 * through a module's function sees that module's types after vmlinux's, as
 * libbpf's candidate search does (vmlinux first, module BTF only when vmlinux
 * has no candidate).
 */
export function btfCoreTypes(path = VMLINUX_BTF): CoreTypes {
  let kernel: KernelBtf | undefined | null = null;
  return {
    access(member) {
      if (kernel === null) kernel = kernelBtfAt(path);
      if (!kernel) throw new CoreAccessError(`${member.root}: no BTF at ${path}`);
      if (member.module === undefined) return coreAccessIn(kernel, member);
      const mod = kernel.moduleBtf(member.module);
      if (!mod) throw new CoreAccessError(`${member.root}: module ${member.module} has no BTF`);
      return coreAccessIn(mod, member, kernel);
    },
  };
}
