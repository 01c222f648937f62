// CO-RE (compile once, run everywhere) on the object side: the local types a
// field access is described in, written into the object's .BTF, and the
// access itself, which becomes a .BTF.ext core_relo record on the
// instruction holding the field's byte offset. libbpf matches the local
// types to the running kernel's by name and kind (relo_core.c
// bpf_core_spec_match, bpf_core_fields_are_compat) and patches the
// instruction's immediate with the field's offset there. Local types carry
// only the members on the access path, so every access string is "0:0:...":
// member 0 at each level.
import { BtfBuilder, IntEncoding, type TypeId } from './btf.js';

/** A type as the local (compile-time) BTF describes it, reduced to what CO-RE compares. */
export type CoreType =
  | { readonly kind: 'int'; readonly name: string; readonly size: number; readonly signed: boolean }
  | { readonly kind: 'enum'; readonly name: string; readonly size: number }
  | { readonly kind: 'ptr' }
  | { readonly kind: 'array'; readonly elem: CoreType; readonly nelems: number }
  | { readonly kind: 'struct' | 'union'; readonly name: string; readonly size: number; readonly member?: CoreMember };

/** The one member of a local struct on the access path, at its compile-time bit offset. */
export interface CoreMember {
  readonly name: string;
  readonly bitOffset: number;
  readonly type: CoreType;
}

/** A field access relative to a root struct: root.m1.m2... (each level's only member). */
export interface CoreAccess {
  readonly root: Extract<CoreType, { kind: 'struct' | 'union' }>;
}

/** The access string of a field access: the root as element 0, then member 0 at every level. */
export function coreAccessString(a: CoreAccess): string {
  const parts = ['0'];
  for (let t: CoreType | undefined = a.root; t && (t.kind === 'struct' || t.kind === 'union') && t.member; t = t.member.type) parts.push('0');
  return parts.join(':');
}

/** Writes local types into `btf`, each distinct shape once. */
export class CoreTypeWriter {
  private readonly ids = new Map<string, TypeId>();
  private index: TypeId | undefined;
  constructor(private readonly btf: BtfBuilder) {}

  add(t: CoreType): TypeId {
    const key = JSON.stringify(t);
    const have = this.ids.get(key);
    if (have !== undefined) return have;
    const id = this.make(t);
    this.ids.set(key, id);
    return id;
  }

  private make(t: CoreType): TypeId {
    const b = this.btf;
    switch (t.kind) {
      case 'int': return b.int(t.name, t.size, t.signed ? IntEncoding.SIGNED : IntEncoding.NONE);
      case 'enum': return b.enumType(t.name, t.size);
      case 'ptr': return b.ptr(0);
      case 'array': {
        this.index ??= b.int('__ARRAY_SIZE_TYPE__', 4, IntEncoding.NONE);
        return b.array(this.add(t.elem), this.index, t.nelems);
      }
      case 'struct':
      case 'union': {
        const members = t.member ? [{ name: t.member.name, type: this.add(t.member.type), bitOffset: t.member.bitOffset }] : [];
        return t.kind === 'struct' ? b.struct(t.name, t.size, members) : b.union(t.name, t.size, members);
      }
    }
  }
}
