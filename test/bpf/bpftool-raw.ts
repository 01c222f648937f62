// bpftool's raw BTF dump (`bpftool [-B BASE] btf dump file F format raw`),
// one entry per type: the independent reading the BTF readers are judged by.
import { execFileSync } from 'node:child_process';

export interface RawType {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly items: { name: string; attrs: Record<string, string> }[];
}

/** The dump of `file` (split BTF on `base` when given; /sys/kernel/btf module files find their base themselves). */
export function bpftoolRaw(file: string, base?: string): Map<number, RawType> {
  const args = [...(base !== undefined ? ['-B', base] : []), 'btf', 'dump', 'file', file, 'format', 'raw'];
  const text = execFileSync('bpftool', args, { maxBuffer: 1 << 30 }).toString();
  const types = new Map<number, RawType>();
  let cur: RawType | undefined;
  const attrs = (s: string) => Object.fromEntries([...s.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  for (const line of text.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (head) {
      cur = { id: Number(head[1]), kind: head[2]!, name: head[3]!, attrs: attrs(head[4]!), items: [] };
      types.set(cur.id, cur);
      continue;
    }
    const item = /^\t'([^']*)'(.*)$/.exec(line);
    if (item && cur) cur.items.push({ name: item[1]!, attrs: attrs(item[2]!) });
  }
  return types;
}
