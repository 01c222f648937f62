// A gcc-built loop for the signal tests and the trace bench: it calls
// kpb_tick(i) `count` times, spinning `spin` iterations (or sleeping `usleep`
// microseconds) between calls, so the call rate is controlled from outside.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOOP_C = `
#include <stdlib.h>
#include <unistd.h>

volatile long kpb_sink;

__attribute__((noinline)) long kpb_tick(long i, long seq)
{
	asm volatile("" ::: "memory");
	return i + seq;
}

/* argv: count [spin [usleep]] */
int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000;
	long spin = argc > 2 ? atol(argv[2]) : 0;
	long nap = argc > 3 ? atol(argv[3]) : 0;
	for (long i = 0; i < count; i++) {
		for (volatile long k = 0; k < spin; k++)
			;
		if (nap)
			usleep((useconds_t)nap);
		kpb_sink += kpb_tick(i, 7);
	}
	return 0;
}
`;

export interface LoopTarget {
  readonly dir: string;
  readonly path: string;
  /** File offset of kpb_tick (nm value; PIE text is mapped at its file offset). */
  readonly tickOffset: bigint;
  /**
   * nm value of kpb_sink, which after n calls holds the sum of i + 7 for
   * i < n (PIE: at the file's load base plus this), so another process can
   * count the calls made by reading it.
   */
  readonly sinkVaddr: bigint;
  cleanup(): void;
}

export function buildLoopTarget(): LoopTarget {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-loop-'));
  const src = join(dir, 'loop.c');
  const path = join(dir, 'kpbloop');
  writeFileSync(src, LOOP_C);
  execFileSync('gcc', ['-O1', '-o', path, src], { stdio: 'pipe' });
  const nm = execFileSync('nm', [path], { encoding: 'utf8' }).split('\n');
  const line = nm.find((l) => / T kpb_tick$/.test(l));
  const sink = nm.find((l) => / [BbDd] kpb_sink$/.test(l));
  if (!line || !sink) throw new Error('nm: no kpb_tick or kpb_sink');
  const sinkVaddr = BigInt(`0x${sink.split(' ')[0]}`);
  const vaddr = BigInt(`0x${line.split(' ')[0]}`);
  // file offset = vaddr - segment vaddr + segment offset (readelf), for the segment holding it
  let tickOffset = vaddr;
  for (const l of execFileSync('readelf', ['-lW', path], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(l);
    if (!m) continue;
    const off = BigInt(`0x${m[1]}`), va = BigInt(`0x${m[2]}`), size = BigInt(`0x${m[3]}`);
    if (vaddr >= va && vaddr < va + size) tickOffset = vaddr - va + off;
  }
  return { dir, path, tickOffset, sinkVaddr, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The probe line on kpb_tick. */
export function tickProbe(t: LoopTarget, group: string, event = 'tick'): string {
  return `p:${group}/${event} ${t.path}:0x${t.tickOffset.toString(16)} i=%di:s64 seq=%si:u32`;
}
