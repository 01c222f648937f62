// Where `make` puts the wasm build (mk/wasm.mk): build/wasm/ at the
// repository root. This file sits at dist/runtime/bridge/ once compiled.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WASM_BUILD_DIR = process.env.KPROBE_BPF_WASM_DIR ?? fileURLToPath(new URL('../../../build/wasm/', import.meta.url));

export function wasmBuildFile(name: string): string {
  const path = `${WASM_BUILD_DIR.replace(/\/$/, '')}/${name}`;
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: the libbpf wasm module has not been built (run 'make' in the repository)`);
  }
  return path;
}
