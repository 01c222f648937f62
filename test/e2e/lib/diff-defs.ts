// The uprobe_events lines the differential tests attach, over the diff
// target: every fetch kind and type a uprobe can use. The kernel takes
// PATH:OFFSET only, so every probe point is a file offset (fileOffset()).
import { fetchOffset, fileOffset, secondInsn, type DiffTarget } from './diff-target.js';

const hex = (v: bigint) => `0x${v.toString(16)}`;

/**
 * [event, line] pairs for group `group`. With `symbolic`, probe points use our
 * PATH:SYMBOL[+offs] extension instead (the same places: the kernel's lines
 * stay numeric, ours must resolve to the same addresses).
 */
export function diffDefinitions(t: DiffTarget, group: string, opts: { symbolic?: boolean } = {}): [string, string][] {
  const at = (fn: string, plus = 0n) =>
    opts.symbolic ? `${t.path}:${fn}${plus ? `+${plus}` : ''}` : `${t.path}:${hex(fileOffset(t, fn, plus))}`;
  const strtolAt = opts.symbolic ? `${t.libc.path}:strtol` : `${t.libc.path}:${hex(t.libc.strtol)}`;
  const glob = hex(fetchOffset(t, 'kpb_global'));
  const glob4 = hex(fetchOffset(t, 'kpb_global') + 4n);
  const ro = hex(fetchOffset(t, 'kpb_rodata'));
  const sema = hex(fetchOffset(t, 'kpb_sema'));
  const gnames = hex(fetchOffset(t, 'kpb_gnames'));
  const gbytes = hex(fetchOffset(t, 'kpb_gbytes'));
  const semaRef = hex(fileOffset(t, 'kpb_sema'));
  const ints = (r: string) => ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64']
    .map((ty) => `${r.replace('%', '')}_${ty}=${r}:${ty}`).join(' ');
  const defs: [string, string, string][] = [
    // Registers (every one pt_regs has), $stack, $stackN (7th and 8th arguments live there), every integer type, char.
    ['regs', `p:${group}/regs`, `${at('kpb_regs')} a=%di b=%si c=%dx d=%cx e=%r8 f=%r9 s1=$stack1 s2=$stack2 s3=$stack3 st=$stack st0=$stack0 ` +
      'ax=%ax bx=%bx bp=%bp sp=%sp ip=%ip r10=%r10 r11=%r11 r12=%r12 r13=%r13 r14=%r14 r15=%r15 fl=%flags cs=%cs ss=%ss oax=%orig_ax ' +
      `${ints('%di')} ${ints('%dx')} ${ints('%r8')} ch=%cx:char chd=%dx:char b7=%dx:b7@57/64 b3=%r9:b3@2/16 b5=%cx:b5@3/8 b1=%si:b1@0/32 ` +
      'sd=+0($stack):x64 s8d=+8($stack):s64'],
    // A probe inside a function (not at its entry).
    ['regs_mid', `p:${group}/regs_mid`, `${at('kpb_regs', secondInsn(t, 'kpb_regs'))} ip=%ip ax=%ax di=%di:s64`],
    ['regs_ret', `r:${group}/regs_ret`, `${at('kpb_regs')} rv=$retval rv8=$retval:s8 rvu=$retval:u32 rvx=$retval:x16 rvs=$retval:s64 di=%di st0=$stack0 ip=%ip`],
    // The %return suffix form of a uretprobe.
    ['regs_pct', `p:${group}/regs_pct`, `${at('kpb_regs')}%return rv=$retval:s32 cm=$comm`],
    // Dereferences (nested three deep, +u), strings and ustrings, arrays of every kind, bitfields, immediates, $comm, @+FILE_OFFS.
    ['rec', `p:${group}/rec`, `${at('kpb_rec')} id=+0(%di):s32 name=+4(%di):string uname=+4(%di):ustring ` +
      'bytes=+20(%di):u8[4] xb=+20(%di):x8[4] sb=+20(%di):s8[4] ca=+4(%di):char[5] u16a=+20(%di):u16[2] ' +
      'b1=+24(%di):b1@0/32 b3=+24(%di):b3@5/32 b16=+24(%di):b16@8/32 b4=+27(%di):b4@2/8 b32=+24(%di):b32@0/32 ' +
      'sh=+28(%di):s16 sc=+30(%di):s8 chr=+31(%di):char names=+32(%di):string[3] unames=+32(%di):ustring[2] ptrs=+32(%di):x64[3] ' +
      'lab=+0(+8(+56(%di))):string nv=+0(+16(+56(%di))):s64 nl=+0(+8(+16(+56(%di)))):ustring ' +
      'big=+64(%di):s64 ubig=+72(%di):u64 xbig=+72(%di):x64 s=+0(%si):string us=+0(%si):ustring uu=+u0(%si):string uv=+u0(%dx):s64 ' +
      `im=\\123 imn=\\-5 imx=\\0x1f im8=\\300:u8 ims8=\\200:s8 ims=\\"imm-str" cm=$comm cms=$comm:string ` +
      `gl=@+${glob}:x64 gl32=@+${glob4}:x32 gls=@+${glob}:s8[8] ro=@+${ro}:string roc=@+${ro}:char[6]`],
    // Negative offsets.
    ['mid', `p:${group}/mid`, `${at('kpb_mid')} m1=-8(%di):s64 p1=+8(%di):s64 m0=+0(%di):s64 ns=+0(-8(%si)):string nu=-8(%si):x64 nn=-4(%di):s32`],
    // uretprobe reading through $retval.
    ['name_ret', `r:${group}/name_ret`, `${at('kpb_name')} s=+0($retval):string u=+0($retval):ustring c=$comm rv=$retval:x64 st=$stack`],
    // Arrays of the wider types, bitfields in 16- and 64-bit containers, empty, non-ASCII and long strings.
    ['wide', `p:${group}/wide`, `${at('kpb_wide')} u16s=+0(%di):u16[2] s16s=+4(%di):s16[2] x32s=+8(%di):x32[2] u32s=+8(%di):u32[2] ` +
      's32s=+8(%di):s32[2] x16s=+0(%di):x16[2] u64s=+16(%di):u64[2] s64s=+32(%di):s64[2] x64s=+16(%di):x64[2] ' +
      'bf16=+48(%di):b5@3/16 bf16s=+48(%di):b16@0/16 bf64=+56(%di):b13@50/64 bf64lo=+56(%di):b1@0/64 raw=+80(%di):char[8] rawx=+80(%di):x8[8] ' +
      'strs=+64(%di):string[2] empty=+0(%si):string high=+0(%dx):string uhigh=+0(%dx):ustring longs=+0(%cx):string'],
    // A long string (the event stays below the kernel's one-page cap).
    ['long', `p:${group}/long`, `${at('kpb_long')} longs=+0(%di):string other=+0(%si):string`],
    // Reference counter (USDT semaphore): while the probe is on, the counter reads 1.
    ['sema', `p:${group}/sema`, `${at('kpb_semaphored')}(${semaRef}) sema=@+${sema}:u16 i=%di:s32`],
    // Faults: bad pointers for every store kind; the nested ones and the string array fault at their last read
    // (an earlier faulting read leaves the kernel's field stale: see trace-diff.test.ts).
    ['flt', `p:${group}/flt`, `${at('kpb_fault')} s=+0(%di):string u=+0(%di):ustring v=+8(%di):u64 arr=+0(%di):u8[4] ` +
      'sa=+0(%dx):string[2] bf=+0(%di):b3@1/8 nest=+0(+0(%si)):s32 nests=+0(+0(%si)):string q=+0(%si):x64 ok=%di:x64'],
    // A dereference that faults before a string is read: the kernel keeps the __data_loc it set before the fetch,
    // the rest of the dynamic area from there, so `a` prints $comm and `arr` the immediate; `last` has nothing after it.
    ['dflt', `p:${group}/dflt`, `${at('kpb_fault')} a=+0(+0(%di)):string cm=$comm arr=+0(%di):string[1] tag=\\"x" ` +
      'n=+0(+0(%si)):string last=+0(+0(%di)):ustring'],
    // Recursion (uretprobes nest), wide bitfields, big arrays, NULs inside char arrays, @+FILE_OFFS arrays of strings.
    ['more', `p:${group}/more`, `${at('kpb_more')} d=%di:s8 full=%si:b64@0/64 top=%si:b1@63/64 mid=%si:b12@20/64 lo=%si:b8@0/32 ` +
      `fl9=%flags:b1@9/64 ipb=%ip:u8 nul=+0(%dx):char[8] nuls=+0(%dx):string nulx=+0(%dx):x16[4] ` +
      `gn=@+${gnames}:string[2] gnu=@+${gnames}:ustring[2] gb=@+${gbytes}:u8[64] gx=@+${gbytes}:x64[8] gs=@+${gbytes}:s32[16] ` +
      'far=+1048576(%di):u64 farn=-1048576(%di):s32 st9=$stack9 st0d=+8($stack0):x32 spd=+0(%sp):x64 imu=\\-1:u16 ims=\\-1:s16 imb=\\0xff:b4@2/8'],
    ['more_ret', `r:${group}/more_ret`, `${at('kpb_more')} rv=$retval:s64 rvb=$retval:b3@1/32 nul=+0(%dx):string`],
    // 100 arguments in one event.
    ['many', `p:${group}/many`, `${at('kpb_more')} ` + Array.from({ length: 100 }, (_, i) =>
      [`a${i}=%si:b${(i % 63) + 1}@0/64`, `m${i}=+${i}(%dx):u8`, `s${i}=+${i % 8}(%dx):string`, `r${i}=%di:s${8 << (i % 4)}`][i % 4]).join(' ')],
    // A string in a page nothing touched yet (see diff-target.ts).
    ['cold', `p:${group}/cold`, `${at('kpb_coldcall')} cold=+0(%di):string ucold=+0(%di):ustring c4=+0(%di):char[4]`],
    // A thread that renamed itself (comm column and $comm are the thread's).
    ['thread', `p:${group}/thread`, `${at('kpb_thread')} v=%di:s64 tag=+0(%si):string cm=$comm`],
    // A shared library: libc's strtol (the kernel's probe fires in every process; the test keeps the target's lines).
    ['strtol', `p:${group}/strtol`, `${strtolAt} s=+0(%di):string end=%si base=%dx:s32`],
    ['strtol_ret', `r:${group}/strtol_ret`, `${strtolAt} rv=$retval:s64`],
    // No arguments at all.
    ['bare', `p:${group}/bare`, `${at('kpb_name')}`],
  ];
  return defs.map(([ev, head, rest]) => [ev, `${head} ${rest}`]);
}
