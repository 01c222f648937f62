// The program the differential tests probe, built with gcc by the test. Its
// functions receive every kind of value a uprobe can fetch: integers of each
// width and sign in registers and on the stack (7th/8th arguments), structs
// with arrays, bitfields, nested pointers, strings (empty, long, non-ASCII),
// a USDT-style semaphore for ref_ctr_offset, and bad pointers for (fault).
//
// Known difference, handled here: a non-sleepable BPF program's
// bpf_probe_read_user(_str) cannot fault a page in (page faults disabled),
// while the kernel's own uprobe fetch can. A string in a page the process has
// not touched yet prints as (fault) from such a program and as its text from
// the kernel. So main() reads (touches) every string and global before the
// probed calls, except kpb_cold, which is there to show the difference (and
// that sleepable programs, the default on Linux 6.0+, do not have it); the
// README lists this under "Known differences".
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DIFF_TARGET_C = `#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

struct inner { long v; const char *label; struct inner *next; };
struct rec {
	int id;                 /* +0 */
	char name[16];          /* +4 */
	unsigned char bytes[4]; /* +20 */
	unsigned int flags;     /* +24 bitfields */
	short sh;               /* +28 */
	signed char sc;         /* +30 */
	char ch;                /* +31 */
	const char *names[3];   /* +32 */
	struct inner *in;       /* +56 */
	long long big;          /* +64 */
	unsigned long long ubig;/* +72 */
};

long kpb_global = 0x1122334455667788L;            /* .data: read with @+FILE_OFFS */
const char kpb_rodata[] = "rodata-string";        /* .rodata */
volatile long kpb_sink;

__attribute__((noinline)) long kpb_regs(long a, long b, long c, long d, long e, long f, long g, long h)
{
	asm volatile("" ::: "memory");
	return a * 3 + b - c + d - e + f - g + h;
}

__attribute__((noinline)) long kpb_rec(struct rec *r, const char *s, struct inner *in)
{
	asm volatile("" ::: "memory");
	return r->id + (long)strlen(s) + in->v;
}

__attribute__((noinline)) long kpb_mid(long *mid, const char **strs)
{
	asm volatile("" ::: "memory");
	return mid[-1] + mid[1] + (long)strlen(strs[-1]);
}

__attribute__((noinline)) const char *kpb_name(int i)
{
	static const char *const names[] = { "zero", "one", "two", "three" };
	asm volatile("" ::: "memory");
	return names[i & 3];
}

struct wide {
	unsigned short u16s[2];  /* +0 */
	short s16s[2];           /* +4 */
	unsigned int x32s[2];    /* +8 */
	unsigned long u64s[2];   /* +16 */
	long s64s[2];            /* +32 */
	unsigned short bits16;   /* +48 */
	unsigned long bits64;    /* +56 */
	const char *strs[2];     /* +64 */
	unsigned char raw[8];    /* +80 */
};

__attribute__((noinline)) long kpb_wide(struct wide *w, const char *empty, const char *high, const char *longs)
{
	asm volatile("" ::: "memory");
	return w->u16s[0] + (long)strlen(empty) + (long)strlen(high) + (long)strlen(longs);
}

__attribute__((noinline)) long kpb_long(const char *longs, const char *other)
{
	asm volatile("" ::: "memory");
	return (long)strlen(longs) + (long)strlen(other);
}

__attribute__((noinline)) int kpb_fault(const char *p, long **q, const char **badstrs)
{
	asm volatile("" ::: "memory");
	return p != 0 && q != 0 && badstrs != 0;
}

const char *kpb_gnames[2] = { "g-first", "g-second" };   /* .data.rel.ro / .data: pointers read with @+FILE_OFFS */
unsigned char kpb_gbytes[64];                             /* .bss, filled by main */

__attribute__((noinline)) long kpb_more(long depth, unsigned long bits, const char *nul_inside)
{
	asm volatile("" ::: "memory");
	return depth > 0 ? kpb_more(depth - 1, bits, nul_inside) + 1 : (long)bits;
}

/* A string in a page nothing touches before the probe reads it (alone in its
 * 64 KiB fault-around window): the kernel's fetch faults it in; a
 * non-sleepable BPF program cannot, and prints (fault). */
__attribute__((aligned(65536))) const char kpb_cold[65536] = "cold-string";

__attribute__((noinline)) long kpb_coldcall(const char *cold)
{
	asm volatile("" ::: "memory");
	return cold != 0;
}

/* Called from a thread that renamed itself: the comm column and $comm are the thread's. */
__attribute__((noinline)) long kpb_thread(long v, const char *tag)
{
	asm volatile("" ::: "memory");
	return v + (long)strlen(tag);
}

static void *kpb_worker(void *arg)
{
	prctl(PR_SET_NAME, "kpb-worker");
	kpb_sink += kpb_thread((long)arg, "from-thread");
	return 0;
}

/* A USDT-style semaphore: the kernel counts the probes with this ref_ctr_offset into it while they are on. */
__attribute__((section(".data"))) volatile unsigned short kpb_sema;

__attribute__((noinline)) int kpb_semaphored(int i)
{
	asm volatile("" ::: "memory");
	return kpb_sema + i;
}

/* Touch every string and global before probing: bpf_probe_read_user_str cannot fault pages in (the kernel's uprobe fetch can). */
static void touch(const char *s) { kpb_sink += (long)strlen(s); }

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	struct inner in2 = { -77, "inner-two", 0 };
	struct inner in1 = { 0x1234, "inner-one", &in2 };
	struct rec r = { 42, "hello-rec", { 1, 2, 250, 4 }, 0xdeadbeefu, -1234, -7, 'Z', { "first", "second", "third" }, &in1, -5000000000LL, 0xfedcba9876543210ULL };
	long arr[3] = { -100, -200, 300 };
	const char *strs[2] = { "before", "after" };
	long *nullp = 0;
	const char *badstrs[2] = { (const char *)16, (const char *)-1L };
	const char *lits[] = { "str-arg", "zero", "one", "two", "three", "inner-one", "inner-two", "first", "second", "third", "before", "after", kpb_rodata };
	for (unsigned i = 0; i < sizeof lits / sizeof *lits; i++) touch(lits[i]);
	kpb_sink += kpb_global;
	/* Long strings, but every event stays well below a page: the kernel caps a uprobe event at PAGE_SIZE (with a WARN). */
	static char longs[3001];
	memset(longs, 'L', 3000);
	struct wide w = { { 65535, 7 }, { -32768, 32767 }, { 0xdeadbeefu, 1 }, { 18446744073709551615UL, 2 }, { -9223372036854775807L - 1, 9 }, 0xa5c3, 0x8123456789abcdefUL, { "", "w2" }, { 0, 1, 0x7f, 0x80, 0xff, 'a', '"', '\\\\' } };
	const char *high = "caf\\xc3\\xa9 \\x01\\x7f\\xff tab\\tend";
	touch("from-thread"); touch("123456"); touch("-42");
	touch(high); touch(longs); touch(w.strs[1]); touch(kpb_gnames[0]); touch(kpb_gnames[1]);
	for (int i = 0; i < 64; i++) kpb_gbytes[i] = (unsigned char)(i * 7);
	const char nul_inside[8] = { 'a', 'b', 0, 'c', 'd', 0, 0, 0 };
	for (int i = 0; i < n; i++) {
		r.id = 40 + i;
		r.flags ^= 0x11u << i;
		r.sc = (signed char)(r.sc - 60 * i);
		in1.v += i;
		kpb_sink += kpb_regs(i - 1, -2L * i, 0x7fffffffffffffffL - i, 255 + i, -(1L << 40), 65535 - i, i * 1000, -i);
		kpb_sink += kpb_rec(&r, "str-arg", &in1);
		arr[1] = i;
		kpb_sink += kpb_mid(&arr[1], &strs[1]);
		kpb_sink += (long)strlen(kpb_name(i));
		w.u16s[1] += (unsigned short)i;
		w.bits16 ^= (unsigned short)(0x8001u << i);
		kpb_sink += kpb_wide(&w, "", high, longs + 1000 * i);
		kpb_sink += kpb_long(longs, high);
		kpb_sink += kpb_semaphored(i);
		kpb_sink += kpb_coldcall(kpb_cold);
		pthread_t th;
		if (pthread_create(&th, 0, kpb_worker, (void *)(long)(i * 11)) == 0)
			pthread_join(th, 0);
		const char *volatile num = i ? "-42" : "123456";
		kpb_sink += strtol(num, 0, i ? 10 : 16);  /* a libc function, probed in libc.so.6 */
		kpb_sink += kpb_more(i, 0xf0f0f0f0f0f0f0f0UL >> i, nul_inside);
		kpb_sink += kpb_fault((const char *)16, &nullp, badstrs);
	}
	return 0;
}
`;

export interface Segment { readonly vaddr: bigint; readonly offset: bigint; readonly flags: string }

export interface DiffTarget {
  readonly dir: string;
  readonly path: string;
  /** The C library the target runs with (ldd), and strtol's file offset in it (nm -D). */
  readonly libc: { readonly path: string; readonly strtol: bigint };
  readonly pie: boolean;
  /** Symbol -> virtual address (nm). */
  readonly symbols: ReadonlyMap<string, bigint>;
  readonly segments: readonly Segment[];
  cleanup(): void;
}

/** Builds the target (PIE or not) into a fresh temp dir; symbols and segments read with binutils, not our ELF code. */
export function buildDiffTarget(pie: boolean, name = 'kpbdiff'): DiffTarget {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-e2e-'));
  const src = join(dir, 'diff.c');
  const path = join(dir, name);
  writeFileSync(src, DIFF_TARGET_C);
  execFileSync('gcc', ['-O1', '-g', pie ? '-fPIE' : '-fno-pie', pie ? '-pie' : '-no-pie', '-o', path, src], { stdio: 'pipe' });
  const symbols = new Map<string, bigint>();
  for (const line of execFileSync('nm', [path], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) \S (\S+)$/.exec(line);
    if (m) symbols.set(m[2]!, BigInt(`0x${m[1]}`));
  }
  const segments: Segment[] = [];
  for (const line of execFileSync('readelf', ['-lW', path], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+([RWE ]+?)\s+0x/.exec(line);
    if (m) segments.push({ offset: BigInt(`0x${m[1]}`), vaddr: BigInt(`0x${m[2]}`), flags: m[3]!.replace(/ /g, '') });
  }
  return { dir, path, pie, symbols, segments, libc: libcOf(path), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function libcOf(path: string): { path: string; strtol: bigint } {
  const m = /libc\.so\.6 => (\S+)/.exec(execFileSync('ldd', [path], { encoding: 'utf8' }));
  if (!m) throw new Error(`ldd ${path}: no libc.so.6`);
  const lib = m[1]!;
  const line = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' }).split('\n').find((l) => / [TW] strtol(@@\S+)?$/.test(l));
  if (!line) throw new Error(`${lib}: no strtol`);
  // libc's text: vaddr == file offset in its executable segment (checked with readelf below)
  const vaddr = BigInt(`0x${line.split(' ')[0]}`);
  for (const l of execFileSync('readelf', ['-lW', lib], { encoding: 'utf8' }).split('\n')) {
    const s = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(l);
    if (!s) continue;
    const off = BigInt(`0x${s[1]}`), va = BigInt(`0x${s[2]}`), size = BigInt(`0x${s[3]}`);
    if (vaddr >= va && vaddr < va + size) return { path: lib, strtol: vaddr - va + off };
  }
  throw new Error(`${lib}: strtol in no LOAD segment`);
}

function segmentOf(t: DiffTarget, vaddr: bigint): Segment {
  const s = [...t.segments].reverse().find((g) => g.vaddr <= vaddr);
  if (!s) throw new Error(`no LOAD segment holds 0x${vaddr.toString(16)}`);
  return s;
}

function symbol(t: DiffTarget, name: string): bigint {
  const v = t.symbols.get(name);
  if (v === undefined) throw new Error(`${t.path}: no symbol ${name}`);
  return v;
}

/** The file offset of a symbol: what PATH:OFFSET and ref_ctr_offset take (uprobetracer.rst). */
export function fileOffset(t: DiffTarget, name: string, plus = 0n): bigint {
  const v = symbol(t, name) + plus;
  const s = segmentOf(t, v);
  return v - s.vaddr + s.offset;
}

/**
 * The @+FILE_OFFS value that reads symbol `name`: the kernel adds it to the
 * probe's load base (trace_uprobe.c translate_user_vaddr: the probed address
 * minus the probe's file offset), i.e. the bias of the executable segment.
 */
export function fetchOffset(t: DiffTarget, name: string): bigint {
  const text = t.segments.find((s) => s.flags.includes('E'));
  if (!text) throw new Error('no executable segment');
  return symbol(t, name) - text.vaddr + text.offset;
}

/** The address of the instruction after the first one of a function (objdump), for a probe inside a function. */
export function secondInsn(t: DiffTarget, name: string): bigint {
  const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=${name}`, t.path], { encoding: 'utf8' });
  const addrs = [...out.matchAll(/^\s+([0-9a-f]+):/gm)].map((m) => BigInt(`0x${m[1]}`));
  if (addrs.length < 2) throw new Error(`objdump: ${name} has fewer than two instructions`);
  return addrs[1]! - symbol(t, name);
}
