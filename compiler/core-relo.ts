// Struct member accesses (`ptr->a.b`, parsed against some kernel's BTF) as
// CO-RE accesses: the local types that describe the path, with the compile-time
// offsets, for libbpf to match against the running kernel's BTF at load
// (bpf/btf-core.ts writes them). The BTF read here is the one the line was
// checked against: the running kernel's, or another's (--btf).
import { Kind, type Btf, type BtfType } from '../bpf/btf.js';
import { kernelBtfFiles } from '../bpf/btf-split.js';
import type { CoreAccess, CoreType } from '../bpf/btf-core.js';
import type { MemberAccess } from '../grammar/ast.js';
import { VMLINUX_BTF } from './trampoline-btf.js';

export class CoreAccessError extends Error {}

/** Resolves member accesses to CO-RE accesses. */
export interface CoreTypes {
  access(member: MemberAccess): CoreAccess;
}

const COMPOSITE = new Set<number>([Kind.STRUCT, Kind.UNION]);

/** The composite named `name` (struct first, as C's `struct name`). */
function composite(btf: Btf, name: string): BtfType | undefined {
  return btf.find(Kind.STRUCT, name) ?? btf.find(Kind.UNION, name);
}

/** A member's type, reduced to what libbpf compares for the access's last field. */
function leaf(btf: Btf, id: number, depth = 0): CoreType {
  const t = btf.resolve(id);
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
function findMember(btf: Btf, owner: BtfType, name: string, depth = 0): Step[] | undefined {
  for (const m of owner.members ?? []) {
    if (m.name === name) return [{ owner, name: m.name, bitOffset: bitOffsetOf(owner, m.bitOffset), type: m.type }];
  }
  if (depth > 8) return undefined;
  for (const m of owner.members ?? []) {
    if (m.name !== '') continue;
    const inner = btf.resolve(m.type);
    if (!COMPOSITE.has(inner.kind)) continue;
    const rest = findMember(btf, inner, name, depth + 1);
    if (rest) return [{ owner, name: '', bitOffset: bitOffsetOf(owner, m.bitOffset), type: m.type }, ...rest];
  }
  return undefined;
}

/** root.path[0].path[1]... as a CO-RE access over one-member local types. */
export function coreAccessIn(btf: Btf, member: MemberAccess): CoreAccess {
  const root = composite(btf, member.root);
  if (!root) throw new CoreAccessError(`BTF has no struct or union ${member.root}`);
  const steps: Step[] = [];
  let owner: BtfType = root;
  member.path.forEach((name, i) => {
    const found = findMember(btf, owner, name);
    if (!found) throw new CoreAccessError(`${member.root}: no member ${member.path.slice(0, i + 1).join('.')}`);
    steps.push(...found);
    owner = btf.resolve(found[found.length - 1]!.type);
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
 * or DIR), parsed on first use; a member path found through a module's
 * function sees that module's types after vmlinux's, as libbpf's candidate
 * search does (vmlinux first, module BTF only when vmlinux has no candidate).
 */
export function btfCoreTypes(path = VMLINUX_BTF): CoreTypes {
  return {
    access(member) {
      const files = kernelBtfFiles(path);
      const btf = member.module !== undefined ? files.withModule(member.module) : files.base();
      if (!btf) throw new CoreAccessError(`${member.root}: module ${member.module} has no BTF`);
      return coreAccessIn(btf, member);
    },
  };
}
