// The pieces of the kernel's printing order: jhash (lookup3's published
// values), the heapsort of lib/sort.c in both its variants (sorted output
// for any input; which order ties come out in is judged by the guest
// kernels in test/guest/hist.test.ts), the hash table's slot order.
import t from 'tap';
import { jhash } from '../../runtime/hist/jhash.js';
import { kernelSort, sortVariantFor } from '../../runtime/hist/kernel-sort.js';
import { tableOrder } from '../../runtime/hist/order.js';
import { prng } from '../lib/prng.js';

t.test('jhash is lookup3 hashlittle', async (t) => {
  t.equal(jhash(new Uint8Array(0)), 0xdeadbeef);
  t.equal(jhash(Buffer.from('Four score and seven years ago')), 0x17770551);
  t.equal(jhash(Buffer.from('Four score and seven years ago'), 1), 0xcd628161);
});

t.test('kernelSort sorts, in both variants, any length', async (t) => {
  const rand = prng(15);
  for (const variant of ['heapsort', 'heapsort-double-pop'] as const) {
    for (let n = 0; n < 40; n++) {
      const v = Array.from({ length: n }, () => Math.floor(rand() * 8));
      const want = [...v].sort((a, b) => a - b);
      kernelSort(v, (a, b) => a - b, variant);
      t.same(v, want, `${variant} n=${n}`);
    }
  }
  t.equal(sortVariantFor('6.1.0-57-amd64'), 'heapsort');
  t.equal(sortVariantFor('6.12.48+deb12-amd64'), 'heapsort-double-pop');
});

t.test('table order: by slot, a collision goes to the next free slot in creation order', async (t) => {
  const k = (v: number) => { const b = Buffer.alloc(8); b.writeUInt32LE(v); return b; };
  const entries = [1, 2, 3, 4, 5].map((v, i) => ({ key: k(v), sums: [1n], seq: BigInt(i) }));
  const slot = (b: Buffer) => (jhash(b) || 1) >>> (32 - 8);
  const got = tableOrder(entries, 7).map((e) => e.key.readUInt32LE(0));
  const want = [...entries].sort((a, b) => slot(a.key) - slot(b.key) || Number(a.seq - b.seq)).map((e) => e.key.readUInt32LE(0));
  t.same(got, want);
});
