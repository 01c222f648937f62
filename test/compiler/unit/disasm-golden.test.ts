// Golden annotated disassembly for a few probes: the expected text below was
// written from `kprobe-bpf compile --disasm --no-sleepable` once and checked
// by hand against `llvm-objdump -d` (LLVM 14.0.6) of the same object: every
// instruction agrees except the BPF_ST stores (`*(u32 *)(r10 - 4) = 0`),
// which that llvm-objdump prints as `<unknown>`. A change in any instruction,
// offset, label or annotation shows here, without root or LLVM.
import t from 'tap';
import { listing } from '../../../bin/commands/compile.js';
import { compileDefinitions } from '../../../compiler/object.js';
import { definitions } from './lib.js';

const LINES = [
  'p:g/ip /bin/true:0x1000 x=%di:u32',
  'r:g/ret vfs_read ret=$retval:s64',
  'p:g/bits /bin/true:0x1000 b=+4(%si):b3@2/8 c=$comm',
];

const EXPECTED = `uprobe//bin/true:0x1000: g__ip  (g/ip, 59 instructions)
; record = scratch[0]
       0:\tr6 = r1
       1:\t*(u32 *)(r10 - 4) = 0
       2:\tr2 = r10
       3:\tr2 += -4
       4:\tld_pseudo\tr1, 1, 0
       6:\tcall 1
       7:\tif r0 == 0 goto +52 <out>
       8:\tr7 = r0
; prefix: time, tgid, cpu, comm; common_type, common_pid
       9:\tcall 5
      10:\t*(u64 *)(r7 + 0) = r0
      11:\tcall 14
      12:\t*(u32 *)(r7 + 36) = r0
      13:\tr0 >>= 32
      14:\t*(u32 *)(r7 + 8) = r0
      15:\tcall 8
      16:\t*(u32 *)(r7 + 12) = r0
      17:\tr1 = r7
      18:\tr1 += 16
      19:\tr2 = 16
      20:\tcall 16
      21:\t*(u32 *)(r7 + 32) = 1
; common_flags, common_preempt_count: tracing_gen_ctx_dec() of a uprobe handler
      22:\tcall 35
      23:\tr3 = r0
      24:\tr1 = r10
      25:\tr1 += -16
      26:\tr2 = 8
      27:\tcall 113
      28:\tr0 = *(u64 *)(r10 - 16)
      29:\tr2 = r0
      30:\tr2 >>= 3
      31:\tr2 &= 1
      32:\tr2 *= 36
      33:\tr2 <<= 16
      34:\tr2 -= 1
      35:\t*(u8 *)(r7 + 35) = r2
      36:\tr2 >>= 16
      37:\t*(u8 *)(r7 + 34) = r2
; __probe_ip
      38:\tr1 = *(u64 *)(r6 + 128)
      39:\t*(u64 *)(r7 + 40) = r1
; x=%di:u32
      40:\tr3 = *(u64 *)(r6 + 112)
      41:\t*(u32 *)(r7 + 48) = r3
; perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)
      42:\tr1 = r6
      43:\tld_pseudo\tr2, 1, 0
      45:\tw3 = -1
      46:\tr4 = r7
      47:\tr5 = 52
      48:\tcall 25
; a full ring drops the record: count it as a miss of this event
      49:\tif r0 == 0 goto +10 <out>
      50:\t*(u32 *)(r10 - 4) = 1
      51:\tr2 = r10
      52:\tr2 += -4
      53:\tld_pseudo\tr1, 1, 0
      55:\tcall 1
      56:\tif r0 == 0 goto +3 <out>
      57:\tr1 = *(u64 *)(r0 + 0)
      58:\tr1 += 1
      59:\t*(u64 *)(r0 + 0) = r1

00000000000001e0 <out>:
      60:\tr0 = 0
      61:\texit

kretprobe/vfs_read: g__ret  (g/ret, 45 instructions)
; record = scratch[0]
       0:\tr6 = r1
       1:\t*(u32 *)(r10 - 4) = 0
       2:\tr2 = r10
       3:\tr2 += -4
       4:\tld_pseudo\tr1, 1, 0
       6:\tcall 1
       7:\tif r0 == 0 goto +39 <out>
       8:\tr7 = r0
; prefix: time, tgid, cpu, comm; common_type, common_pid
       9:\tcall 5
      10:\t*(u64 *)(r7 + 0) = r0
      11:\tcall 14
      12:\t*(u32 *)(r7 + 36) = r0
      13:\tr0 >>= 32
      14:\t*(u32 *)(r7 + 8) = r0
      15:\tcall 8
      16:\t*(u32 *)(r7 + 12) = r0
      17:\tr1 = r7
      18:\tr1 += 16
      19:\tr2 = 16
      20:\tcall 16
      21:\t*(u32 *)(r7 + 32) = 2
; __probe_func
      22:\tr1 = 0 ll
      24:\t*(u64 *)(r7 + 40) = r1
; __probe_ret_ip
      25:\tr1 = *(u64 *)(r6 + 128)
      26:\t*(u64 *)(r7 + 48) = r1
; ret=$retval:s64
      27:\tr3 = *(u64 *)(r6 + 80)
      28:\t*(u64 *)(r7 + 56) = r3
; perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)
      29:\tr1 = r6
      30:\tld_pseudo\tr2, 1, 0
      32:\tw3 = -1
      33:\tr4 = r7
      34:\tr5 = 64
      35:\tcall 25
; a full ring drops the record: count it as a miss of this event
      36:\tif r0 == 0 goto +10 <out>
      37:\t*(u32 *)(r10 - 4) = 2
      38:\tr2 = r10
      39:\tr2 += -4
      40:\tld_pseudo\tr1, 1, 0
      42:\tcall 1
      43:\tif r0 == 0 goto +3 <out>
      44:\tr1 = *(u64 *)(r0 + 0)
      45:\tr1 += 1
      46:\t*(u64 *)(r0 + 0) = r1

0000000000000178 <out>:
      47:\tr0 = 0
      48:\texit

uprobe//bin/true:0x1000: g__bits  (g/bits, 83 instructions)
; record = scratch[0]
       0:\tr6 = r1
       1:\t*(u32 *)(r10 - 4) = 0
       2:\tr2 = r10
       3:\tr2 += -4
       4:\tld_pseudo\tr1, 1, 0
       6:\tcall 1
       7:\tif r0 == 0 goto +76 <out>
       8:\tr7 = r0
; prefix: time, tgid, cpu, comm; common_type, common_pid
       9:\tcall 5
      10:\t*(u64 *)(r7 + 0) = r0
      11:\tcall 14
      12:\t*(u32 *)(r7 + 36) = r0
      13:\tr0 >>= 32
      14:\t*(u32 *)(r7 + 8) = r0
      15:\tcall 8
      16:\t*(u32 *)(r7 + 12) = r0
      17:\tr1 = r7
      18:\tr1 += 16
      19:\tr2 = 16
      20:\tcall 16
      21:\t*(u32 *)(r7 + 32) = 3
; common_flags, common_preempt_count: tracing_gen_ctx_dec() of a uprobe handler
      22:\tcall 35
      23:\tr3 = r0
      24:\tr1 = r10
      25:\tr1 += -16
      26:\tr2 = 8
      27:\tcall 113
      28:\tr0 = *(u64 *)(r10 - 16)
      29:\tr2 = r0
      30:\tr2 >>= 3
      31:\tr2 &= 1
      32:\tr2 *= 36
      33:\tr2 <<= 16
      34:\tr2 -= 1
      35:\t*(u8 *)(r7 + 35) = r2
      36:\tr2 >>= 16
      37:\t*(u8 *)(r7 + 34) = r2
; __probe_ip
      38:\tr1 = *(u64 *)(r6 + 128)
      39:\t*(u64 *)(r7 + 40) = r1
      40:\tr8 = 21
; b=+4(%si):b3@2/8
      41:\tr3 = *(u64 *)(r6 + 104)
      42:\tr3 += 4
      43:\tr1 = r7
      44:\tr1 += 48
      45:\tr2 = 1
      46:\tcall 112
      47:\tr1 = *(u8 *)(r7 + 48)
      48:\tr1 <<= 59
      49:\tr1 >>= 61
      50:\t*(u8 *)(r7 + 48) = r1
; c=$comm
      51:\tr1 = r7
      52:\tr1 += r8
      53:\tr1 += 32
      54:\tr2 = 16
      55:\tr3 = r7
      56:\tr3 += 16
      57:\tcall 115
      58:\tif r0 <= 16 goto +1 <len_ok_0>
      59:\tr0 = 0

00000000000001e0 <len_ok_0>:
      60:\tr1 = r0
      61:\tr1 <<= 16
      62:\tr1 |= r8
      63:\t*(u32 *)(r7 + 49) = r1
      64:\tr8 += r0
; perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)
      65:\tr1 = r6
      66:\tld_pseudo\tr2, 1, 0
      68:\tw3 = -1
      69:\tr4 = r7
      70:\tr5 = r8
      71:\tr5 += 32
      72:\tcall 25
; a full ring drops the record: count it as a miss of this event
      73:\tif r0 == 0 goto +10 <out>
      74:\t*(u32 *)(r10 - 4) = 3
      75:\tr2 = r10
      76:\tr2 += -4
      77:\tld_pseudo\tr1, 1, 0
      79:\tcall 1
      80:\tif r0 == 0 goto +3 <out>
      81:\tr1 = *(u64 *)(r0 + 0)
      82:\tr1 += 1
      83:\t*(u64 *)(r0 + 0) = r1

00000000000002a0 <out>:
      84:\tr0 = 0
      85:\texit
`;

t.test('annotated disassembly of three probes is exactly the checked listing', async (t) => {
  const compiled = compileDefinitions(definitions(LINES), { sleepable: false });
  const got = listing(compiled).split('\n');
  const want = EXPECTED.split('\n');
  // line by line, so a difference names its line
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] !== want[i]) {
      t.equal(got[i], want[i], `first difference at listing line ${i + 1}`);
      return;
    }
  }
  t.equal(got.length, want.length, `${want.length} lines identical`);
});
