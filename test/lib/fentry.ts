// Whether this kernel loads fentry programs, asked of the kernel through
// bpftool (`prog loadall` of one f event of ours), never assumed: this
// host's 6.18 refuses them (EPERM), the 6.12 guest runs them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileDefinitions } from '../../compiler/object.js';
import { parseProbeCommands } from '../../grammar/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { run } from '../bpf/tools.js';
import { withBpffsSync } from './bpffs.js';

/** bpftool's verdict on loading `line`'s fentry program (default `f vfs_read count`): undefined when the kernel loads it (pinned in a private bpffs). */
export function fentryRefusal(line = 'f:kbpffe/rd vfs_read count'): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'kbpf-fentry-'));
  try {
    const def = parseProbeCommands(line, {}).commands[0] as ProbeDefinition;
    writeFileSync(join(dir, 'f.o'), compileDefinitions([def]).object);
    const r = withBpffsSync((root) => run('bpftool', ['prog', 'loadall', join(dir, 'f.o'), join(root, 'fentry')]));
    return r.status === 0 ? undefined : r.stderr.split('\n').filter((l) => /Operation not permitted|failed/.test(l)).join(' ') || `bpftool exit ${r.status}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
