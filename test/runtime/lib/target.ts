// A small C program the runtime tests probe, built with gcc into a fresh
// temp dir (PIE by default, non-PIE on request). Its functions take the
// argument kinds the fetch types read: ints, chars, strings, structs with
// arrays, and a bad pointer for (fault).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TARGET_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
struct rec { int id; char name[16]; unsigned char bytes[4]; const char *names[2]; };

__attribute__((noinline)) long kpb_target(long a, const char *s, struct rec *r, long x, int c)
{
	asm volatile("" ::: "memory");
	return a + (long)strlen(s) + r->id + x + c;
}

__attribute__((noinline)) int kpb_fault(const char *p, long v)
{
	asm volatile("" ::: "memory");
	return p != 0 && v != 0;
}

/* A USDT-style semaphore: the kernel bumps it while a probe with this ref_ctr_offset is on. In .data so it is file-backed. */
__attribute__((section(".data"))) volatile unsigned short kpb_sema;

__attribute__((noinline)) int kpb_hot(int i)
{
	asm volatile("" ::: "memory");
	return i * 3;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	int hot = argc > 2 ? atoi(argv[2]) : 0;
	struct rec r = { 42, "hello-rec", { 1, 2, 250, 4 }, { "first", "second" } };
	long sum = 0;
	if (argc > 3 && strcmp(argv[3], "wait") == 0) { /* argv[4]: spin iterations between kpb_hot calls (rate control) */
		char c;
		printf("ready\n");
		fflush(stdout);
		if (read(0, &c, 1) < 0)
			return 2;
	}
	printf("sema=%d\n", kpb_sema);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		r.id = 40 + i;
		sum += kpb_target(i - 1, "str-arg", &r, -5L * i, 'A' + i);
		sum += kpb_fault((const char *)16, i);
	}
	int spin = argc > 4 ? atoi(argv[4]) : 0;
	for (int i = 0; i < hot; i++) {
		for (volatile int k = 0; k < spin; k++)
			;
		sum += kpb_hot(i);
	}
	return (int)(sum & 1);
}
`;

export interface Target {
  readonly dir: string;
  readonly path: string;
  cleanup(): void;
}

export function buildTarget(opts: { pie?: boolean; name?: string } = {}): Target {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-rt-'));
  const src = join(dir, 'target.c');
  const path = join(dir, opts.name ?? 'kpbtarget');
  writeFileSync(src, TARGET_C);
  const pie = opts.pie ?? true;
  execFileSync('gcc', ['-O1', '-g', pie ? '-fPIE' : '-fno-pie', pie ? '-pie' : '-no-pie', '-o', path, src], { stdio: 'pipe' });
  return { dir, path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the target to completion (pinned to one CPU with taskset when cpu is given). */
export function runTarget(t: Target, args: string[] = [], cpu?: number): void {
  try {
    if (cpu === undefined) execFileSync(t.path, args, { stdio: 'pipe' });
    else execFileSync('taskset', ['-c', String(cpu), t.path, ...args], { stdio: 'pipe' });
  } catch (e) {
    // exit status is sum&1, not an error
    if ((e as { status?: number }).status === undefined) throw e;
  }
}

/** A target started with "wait": it prints "ready", blocks on stdin until release(), then runs. */
export interface HeldTarget {
  readonly pid: number;
  /** Lets it run; resolves with its stdout once it exits. */
  release(): Promise<string>;
}

export async function startHeld(t: Target, n: number, hot: number): Promise<HeldTarget> {
  const { spawn } = await import('node:child_process');
  const child = spawn(t.path, [String(n), String(hot), 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('latin1');
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
  });
  const exited = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
  return {
    pid: child.pid!,
    release: async () => {
      child.stdin.end('x');
      return exited;
    },
  };
}
