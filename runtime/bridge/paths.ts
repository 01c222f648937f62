// Where `make` puts the wasm build (mk/wasm.mk): build/wasm/ at the
// repository (or installed package) root. This file sits at
// dist/runtime/bridge/ once compiled, or inside a chunk of the CLI bundle
// (dist/bundle/, mk/bundle.mk): the root is the nearest directory above it
// with a package.json, whichever of the two it is.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return fileURLToPath(new URL('../../../', import.meta.url));
  }
}

export const WASM_BUILD_DIR = process.env.KPROBE_BPF_WASM_DIR ?? join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'build/wasm/');

export function wasmBuildFile(name: string): string {
  const path = `${WASM_BUILD_DIR.replace(/\/$/, '')}/${name}`;
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: the libbpf wasm module has not been built (run 'make' in the repository)`);
  }
  return path;
}
