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

const EXPECTED = `uprobe//bin/true:0x1000: g__ip  (g/ip, 43 instructions)
; record = scratch[0]
       0:\tr6 = r1
       1:\t*(u32 *)(r10 - 4) = 0
       2:\tr2 = r10
       3:\tr2 += -4
       4:\tld_pseudo\tr1, 1, 0
       6:\tcall 1
       7:\tif r0 == 0 goto +36 <out>
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
; __probe_ip
      22:\tr1 = *(u64 *)(r6 + 128)
      23:\t*(u64 *)(r7 + 40) = r1
; x=%di:u32
      24:\tr3 = *(u64 *)(r6 + 112)
      25:\t*(u32 *)(r7 + 48) = r3
; perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)
      26:\tr1 = r6
      27:\tld_pseudo\tr2, 1, 0
      29:\tw3 = -1
      30:\tr4 = r7
      31:\tr5 = 52
      32:\tcall 25
; a full ring drops the record: count it as a miss of this event
      33:\tif r0 == 0 goto +10 <out>
      34:\t*(u32 *)(r10 - 4) = 1
      35:\tr2 = r10
      36:\tr2 += -4
      37:\tld_pseudo\tr1, 1, 0
      39:\tcall 1
      40:\tif r0 == 0 goto +3 <out>
      41:\tr1 = *(u64 *)(r0 + 0)
      42:\tr1 += 1
      43:\t*(u64 *)(r0 + 0) = r1

0000000000000160 <out>:
      44:\tr0 = 0
      45:\texit

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

uprobe//bin/true:0x1000: g__bits  (g/bits, 67 instructions)
; record = scratch[0]
       0:\tr6 = r1
       1:\t*(u32 *)(r10 - 4) = 0
       2:\tr2 = r10
       3:\tr2 += -4
       4:\tld_pseudo\tr1, 1, 0
       6:\tcall 1
       7:\tif r0 == 0 goto +60 <out>
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
; __probe_ip
      22:\tr1 = *(u64 *)(r6 + 128)
      23:\t*(u64 *)(r7 + 40) = r1
      24:\tr8 = 21
; b=+4(%si):b3@2/8
      25:\tr3 = *(u64 *)(r6 + 104)
      26:\tr3 += 4
      27:\tr1 = r7
      28:\tr1 += 48
      29:\tr2 = 1
      30:\tcall 112
      31:\tr1 = *(u8 *)(r7 + 48)
      32:\tr1 <<= 59
      33:\tr1 >>= 61
      34:\t*(u8 *)(r7 + 48) = r1
; c=$comm
      35:\tr1 = r7
      36:\tr1 += r8
      37:\tr1 += 32
      38:\tr2 = 16
      39:\tr3 = r7
      40:\tr3 += 16
      41:\tcall 115
      42:\tif r0 <= 16 goto +1 <len_ok_0>
      43:\tr0 = 0

0000000000000160 <len_ok_0>:
      44:\tr1 = r0
      45:\tr1 <<= 16
      46:\tr1 |= r8
      47:\t*(u32 *)(r7 + 49) = r1
      48:\tr8 += r0
; perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)
      49:\tr1 = r6
      50:\tld_pseudo\tr2, 1, 0
      52:\tw3 = -1
      53:\tr4 = r7
      54:\tr5 = r8
      55:\tr5 += 32
      56:\tcall 25
; a full ring drops the record: count it as a miss of this event
      57:\tif r0 == 0 goto +10 <out>
      58:\t*(u32 *)(r10 - 4) = 3
      59:\tr2 = r10
      60:\tr2 += -4
      61:\tld_pseudo\tr1, 1, 0
      63:\tcall 1
      64:\tif r0 == 0 goto +3 <out>
      65:\tr1 = *(u64 *)(r0 + 0)
      66:\tr1 += 1
      67:\t*(u64 *)(r0 + 0) = r1

0000000000000220 <out>:
      68:\tr0 = 0
      69:\texit
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
