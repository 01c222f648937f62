// What the guest's BTF-argument corpora are generated from: the named members
// of the struct a parameter points to (kprobe-btf-grammar, fprobe-events).
import { Kind } from '../../bpf/btf.js';
import type { KernelBtf } from '../../bpf/btf-kernel.js';

export interface NamedMember {
  readonly name: string;
  readonly kind: number;
  /** The member's type id when it is a pointer (its own members are one more step). */
  readonly pointee?: number;
}

/** Named members of the struct (or union) a pointer type points to, with the kind of each. */
export function membersOf(btf: KernelBtf, ptrType: number): NamedMember[] {
  const ptr = btf.skipModifiers(ptrType);
  if (ptr.type.kind !== Kind.PTR) return [];
  const s = btf.skipModifiers(ptr.type.type ?? 0);
  if (s.type.kind !== Kind.STRUCT && s.type.kind !== Kind.UNION) return [];
  return (s.type.members ?? []).filter((m) => m.name !== '').map((m) => {
    const mt = btf.skipModifiers(m.type);
    return { name: m.name, kind: mt.type.kind, ...(mt.type.kind === Kind.PTR ? { pointee: m.type } : {}) };
  });
}
