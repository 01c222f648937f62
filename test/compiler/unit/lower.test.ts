// The kernel's rewrites, checked in the IR (no BPF, no kernel, no LLVM): each
// expected fetch program is written out by hand from the kernel's rules
// (kernel/trace/trace_probe.c parse_probe_arg / traceprobe_parse_probe_arg_body
// and the x86-64 pt_regs layout), not computed by the compiler.
import t from 'tap';
import { fetchOf, lower } from './lib.js';

// struct pt_regs offsets (arch/x86/include/asm/ptrace.h), written out here on purpose
const DI = 112, DX = 96, AX = 80, SP = 152;

t.test('the last dereference of a value becomes the store\'s own read', async (t) => {
  const f = fetchOf('p:g/e vfs_read x=+8(+16(%di)):u32');
  t.same(f.source, { op: 'reg', reg: 'di', ptRegsOffset: DI });
  t.same(f.derefs, [{ offset: 16n, space: 'auto' }], 'only the inner dereference stays a dereference');
  t.same(f.store, { op: 'mem', offset: 8n, size: 4, space: 'auto' });
  t.equal(f.argText, '+8(+16(%di)):u32');
  t.equal(f.fieldOffset, 16, 'first argument right after common fields and __probe_ip');

  const plain = fetchOf('p:g/e vfs_read x=%si:s16');
  t.same(plain.derefs, []);
  t.same(plain.store, { op: 'raw', size: 2 }, 'a register value is stored as it is, truncated');

  const u = fetchOf('p:g/e /bin/true:0x1000 x=+4(+0(%dx)):u64');
  t.same(u.source, { op: 'reg', reg: 'dx', ptRegsOffset: DX });
  t.same([u.derefs, u.store], [[{ offset: 0n, space: 'user' }], { op: 'mem', offset: 4n, size: 8, space: 'user' }], 'uprobes read user memory');

  const ku = fetchOf('p:g/e vfs_read x=+u4(%dx):u32');
  t.same(ku.store, { op: 'mem', offset: 4n, size: 4, space: 'user' }, '+uOFFS on a kprobe reads user memory');
});

t.test('$argN past the six argument registers becomes a stack read above the return address', async (t) => {
  t.same(fetchOf('p:g/e vfs_read a=$arg3').source, { op: 'reg', reg: 'dx', ptRegsOffset: DX }, '$arg3 is %dx');
  t.same(fetchOf('p:g/e vfs_read a=$arg6').source, { op: 'reg', reg: 'r9', ptRegsOffset: 64 }, '$arg6 is %r9');
  const a7 = fetchOf('p:g/e vfs_read a=$arg7');
  t.same(a7.source, { op: 'reg', reg: 'sp', ptRegsOffset: SP });
  t.same(a7.derefs, []);
  t.same(a7.store, { op: 'mem', offset: 8n, size: 8, space: 'auto' }, '$arg7 is the word at sp+8');
  t.same(fetchOf('p:g/e vfs_read a=$arg9:u32').store, { op: 'mem', offset: 24n, size: 4, space: 'auto' }, '$arg9 at sp+24');
  t.same(fetchOf('p:g/e vfs_read s=$stack2').store, { op: 'mem', offset: 16n, size: 8, space: 'auto' }, '$stack2 at sp+16');
  t.same(fetchOf('p:g/e vfs_read s=$stack').store, { op: 'raw', size: 8 }, '$stack is the stack pointer itself');
  // typed (not from BTF): a kretprobe program (a BTF-typed $retval alone would make it fexit, compiler/trampoline.ts)
  t.same(fetchOf('r:g/e vfs_read r=$retval:x64').source, { op: 'reg', reg: 'ax', ptRegsOffset: AX });
});

t.test('bitfields: the container is read, then shifted left and right in its width', async (t) => {
  const b = fetchOf('p:g/e vfs_read b=+4(%si):b3@2/8');
  t.same(b.store, { op: 'mem', offset: 4n, size: 1, space: 'auto' });
  // lshift = container - width - offset = 8 - 3 - 2, rshift = container - width = 8 - 3
  t.same(b.bitfield, { containerSize: 1, lshift: 3, rshift: 5 });
  const w = fetchOf('p:g/e vfs_read b=%di:b5@3/32');
  t.same(w.store, { op: 'raw', size: 4 });
  t.same(w.bitfield, { containerSize: 4, lshift: 24, rshift: 27 });
});

t.test('strings read at the final address; arrays of strings read their char * first', async (t) => {
  const s = fetchOf('p:g/e vfs_read s=+0(+8(%di)):string');
  t.same(s.derefs, [{ offset: 8n, space: 'auto' }]);
  t.same(s.store, { op: 'string', offset: 0n, space: 'auto' });
  t.equal(s.elemSize, 4, 'a __data_loc is 4 bytes');
  t.same(fetchOf('p:g/e vfs_read s=+0(%si):ustring').store, { op: 'string', offset: 0n, space: 'user' }, 'ustring reads user memory');
  t.same(fetchOf('p:g/e vfs_read s=@jiffies:string').store, { op: 'string', offset: 0n, space: 'auto' }, '@SYM: the string is read at the symbol');
  const arr = fetchOf('p:g/e /bin/true:0x1000 s=+0(%si):string[3]');
  t.same([arr.store, arr.count], [{ op: 'string', offset: 0n, space: 'user' }, 3]);
  t.same(fetchOf('p:g/e vfs_read c=$comm').store, { op: 'comm' });
  t.same(fetchOf('p:g/e vfs_read i=\\"hi"').store, { op: 'immstr', value: 'hi', readable: true });
  t.same(fetchOf('p:g/e /bin/true:0x1000 i=\\"hi"').store, { op: 'immstr', value: 'hi', readable: false },
    'uprobes fetch an immediate string as user memory from a kernel address: always (fault)');
});

t.test('@SYM and @ADDR name memory: the value is read at the address', async (t) => {
  const s = fetchOf('p:g/e vfs_read j=@jiffies+8:u32');
  t.same(s.source, { op: 'ksym', symbol: 'jiffies', offset: 8n });
  t.same([s.derefs, s.store], [[], { op: 'mem', offset: 0n, size: 4, space: 'auto' }]);
  const a = fetchOf('p:g/e vfs_read j=@0xffff1000');
  t.same([a.source, a.store], [{ op: 'imm', value: 0xffff1000n }, { op: 'mem', offset: 0n, size: 8, space: 'auto' }]);
});

t.test('string room: the kernel\'s maximum, shrunk so the record fits one per-CPU scratch value', async (t) => {
  t.equal(lower('p:g/e vfs_read s=+0(%si):string').maxStringSize, 4096, 'MAX_STRING_SIZE when it fits');
  t.equal(lower('p:g/e vfs_read s=+0(%si):string', { maxStringSize: 100 }).maxStringSize, 100, 'a smaller request is kept');
  t.equal(lower('p:g/e vfs_read x=%di').maxStringSize, 0, 'no strings, no room');
  // 64 strings: entry = 8 common + 8 __probe_ip + 64 * 4 = 272; (32768 - 32 prefix - 272) / 64 = 507.25
  t.equal(lower('p:g/e vfs_read s=+0(%si):string[64]').maxStringSize, 507);
  // plus $comm: entry 276, 16 bytes of comm; (32768 - 32 - 276 - 16) / 64 = 506.9
  const p = lower('p:g/e vfs_read s=+0(%si):string[64] c=$comm');
  t.equal(p.maxStringSize, 506);
  t.equal(p.format.entrySize, 276);
});

t.test('sleepable programs: uprobes that read memory by default, never kprobes; the section says so', async (t) => {
  const u = lower('p:g/e /bin/true:0x1000 x=%di s=+0(%si):string');
  t.same([u.sleepable, u.section], [true, 'uprobe.s//bin/true:0x1000']);
  for (const [line, sleeps] of [
    ['p:g/e /bin/true:0x1000 x=%di c=$comm i=\\7 sp=$stack', false],
    ['r:g/e /bin/true:0x1000 rv=$retval:s32', false],
    ['p:g/e /bin/true:0x1000 s=$stack0', true],
    ['p:g/e /bin/true:0x1000 v=@+0x2010:u32', true],
    ['p:g/e /bin/true:0x1000 v=+8(%di):u8', true],
  ] as const) t.equal(lower(line).sleepable, sleeps, `${line}: ${sleeps ? 'reads memory: sleepable' : 'registers and constants only: atomic'}`);
  const ua = lower('r:g/e /bin/true:0x1000 x=%di', { sleepable: false });
  t.same([ua.sleepable, ua.section], [false, 'uretprobe//bin/true:0x1000']);
  const k = lower('r:g/e vfs_read+0 x=%di');
  t.same([k.sleepable, k.section, k.probeIp], [false, 'kretprobe/vfs_read', { op: 'ksym', symbol: 'vfs_read', offset: 0n }]);
});

t.test('__probe_ip of an entry kprobe is where the kprobe sits (ip minus int3), not the symbol: IBT moves it past ENDBR', async (t) => {
  t.same(lower('p:g/e vfs_read x=%di').probeIp, { op: 'kprobe-addr' });
  t.same(lower('p:g/e vfs_read+4 x=%di').probeIp, { op: 'kprobe-addr' });
  t.same(lower('r:g/e vfs_read x=%di').probeIp, { op: 'ksym', symbol: 'vfs_read', offset: 0n }, 'a return probe keeps the symbol (ftrace prints it with %ps, no offset)');
});
