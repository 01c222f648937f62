// The uprobe_multi links a process holds, as the kernel's fdinfo shows them
// (bpf_uprobe_multi_show_fdinfo: link_type uprobe_multi or uretprobe_multi,
// prog_id, pid, path, uprobe_cnt, then a table of cookie / offset /
// ref_ctr_offset rows, left out here).
import { readFileSync, readdirSync } from 'node:fs';

/** One link's "key:\tvalue" fdinfo fields (prog_id, pid, path, uprobe_cnt, ...). */
export function uprobeMultiLinks(pid: number): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (!/^link_type:\s*u(?:ret)?probe_multi$/m.test(text)) continue;
    out.push(Object.fromEntries(text.split('\n').flatMap((l) => {
      const m = /^(\w+):\s*(.*)$/.exec(l);
      return m ? [[m[1]!, m[2]!]] : [];
    })));
  }
  return out;
}
