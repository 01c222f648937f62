// Which uprobe events share a uprobe_multi link (planUprobeLinks): one link
// per path, direction and sleepable-ness, members in attach order, and no
// member placed so that it registers before an event attached ahead of it on
// the same site (the consumers' order on a site is the kernel's print order).
import t from 'tap';
import { planUprobeLinks, type GroupMember } from '../../runtime/attach/index.js';

interface M extends GroupMember { readonly name: string }

const m = (name: string, path: string, offset: number, opts: { ret?: boolean; sleepable?: boolean } = {}): M => ({
  name, target: { path, offset: BigInt(offset), isReturn: opts.ret ?? false }, progFd: -1, sleepable: opts.sleepable ?? false,
});
const names = (links: M[][]): string[][] => links.map((l) => l.map((x) => x.name));

/** The order each site's members register in: links in order, each link's members in order. */
function registration(links: M[][]): Map<string, string[]> {
  const bySite = new Map<string, string[]>();
  for (const x of links.flat()) {
    const site = `${x.target.path}:${x.target.offset}:${x.target.isReturn}`;
    bySite.set(site, [...(bySite.get(site) ?? []), x.name]);
  }
  return bySite;
}

t.test('one link per path, direction and sleepable-ness, in attach order', async (t) => {
  const ms = [m('a', '/x', 0x10), m('r', '/x', 0x10, { ret: true }), m('b', '/x', 0x20), m('c', '/y', 0x10), m('d', '/x', 0x30), m('s', '/x', 0x40, { sleepable: true })];
  t.same(names(planUprobeLinks(ms)), [['a', 'b', 'd'], ['r'], ['c'], ['s']]);
});

t.test('events on one site keep their order when sleepable-ness alternates', async (t) => {
  // a and c could share a link, but c would then register before b on their common site
  const ms = [m('a', '/x', 0x10), m('b', '/x', 0x10, { sleepable: true }), m('c', '/x', 0x10), m('d', '/x', 0x20)];
  const links = planUprobeLinks(ms);
  t.same(names(links), [['a'], ['b'], ['c', 'd']]);
  t.same(registration(links).get('/x:16:false'), ['a', 'b', 'c'], 'the site registers a, b, c as attached');
});

t.test('a member on another site still joins the earlier link', async (t) => {
  const ms = [m('a', '/x', 0x10), m('b', '/x', 0x10, { sleepable: true }), m('c', '/x', 0x20)];
  t.same(names(planUprobeLinks(ms)), [['a', 'c'], ['b']]);
});

t.test('the registration order on every site is the attach order, whatever the mix', async (t) => {
  // every mix of 6 members over 2 sites, 2 sleepable-nesses and 2 paths (one bit each)
  let mixes = 0;
  for (let mask = 0; mask < 1 << 18; mask += 97) {
    mixes++;
    const ms = Array.from({ length: 6 }, (_, i) => {
      const bits = (mask >> (3 * i)) & 7;
      return m(`e${i}`, bits & 4 ? '/y' : '/x', bits & 1 ? 0x20 : 0x10, { sleepable: (bits & 2) !== 0 });
    });
    const links = planUprobeLinks(ms);
    if (links.flat().length !== ms.length) t.fail(`mask ${mask}: ${links.flat().length} members placed of ${ms.length}`);
    for (const [site, order] of registration(links)) {
      const attached = ms.filter((x) => `${x.target.path}:${x.target.offset}:${x.target.isReturn}` === site).map((x) => x.name);
      if (order.join() !== attached.join()) t.fail(`mask ${mask}: site ${site} registers ${order.join()} for attach order ${attached.join()}`);
    }
    for (const l of links) if (!l.every((x) => x.target.path === l[0]!.target.path && x.sleepable === l[0]!.sleepable)) t.fail(`mask ${mask}: a link mixes paths or kinds`);
  }
  t.ok(mixes > 2000, `${mixes} mixes checked`);
});
