// The CLI as a V8 start-up snapshot (issue 13): `node --build-snapshot`
// runs this file (bundled to one CommonJS script, mk/snapshot.mk), which
// loads the CLI and initialises the modules every command reaches — the
// grammar, the compiler, the commands — and V8 saves the heap; a start from
// the snapshot (`node --snapshot-blob BLOB -- ARGS`, bin/kprobe-bpf) begins
// with them in place: no module is read, compiled or initialised for them.
// What depends on the machine or the run is not initialised here (it would
// be frozen into every later start): the host's kernel facts
// (compile-options.ts), koffi and the runtime, and whatever reads the
// environment at load; those load at run time, as in the bundle. A blob
// loads only into the Node binary and V8 flags it was built with, which
// bin/kprobe-bpf checks before using one.
import v8 from 'node:v8';
// Node built-ins `trace` loads at run time (the -c spawn, the kernel config's
// gunzip, libbpf's time limit, the clock's tracefs instance), which Node
// otherwise compiles at each start: loaded here, they are in the snapshot.
import * as childProcess from 'node:child_process';
import * as zlib from 'node:zlib';
import * as vm from 'node:vm';
import * as fsPromises from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from './main.js';

/** What `import.meta.url` is in the snapshot's code (mk/snapshot.mk defines it so): set at each start. */
declare global {
  // eslint-disable-next-line no-var
  var __kprobeBpfModuleUrl: string | undefined;
}

/** The modules initialised into the snapshot: each command, and the compiler the lines go through. */
async function initialise(): Promise<void> {
  // used, so the bundler keeps the loads
  if (![childProcess.spawn, zlib.gunzipSync, vm.Script, fsPromises.mkdir].every((f) => typeof f === 'function')) throw new Error('snapshot: a Node built-in is missing');
  await Promise.all([
    import('./commands/parse.js'),
    import('./commands/compile.js'),
    import('./commands/check.js'),
    import('./commands/trace.js'),
    import('../compiler/object.js'),
    import('../compiler/lower.js'),
  ]);
}

void initialise();

v8.startupSnapshot.setDeserializeMainFunction(() => {
  const started = performance.now();
  // the blob sits in dist/snapshot/, as the bundle in dist/bundle/: paths relative to "this module" resolve alike
  const blob = process.execArgv[process.execArgv.indexOf('--snapshot-blob') + 1] ?? '';
  globalThis.__kprobeBpfModuleUrl = pathToFileURL(resolve(blob)).href;
  void main(process.argv.slice(1), started);
});
