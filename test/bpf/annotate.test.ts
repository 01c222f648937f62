// annotateFrom marks a run appended to a longer list (codegen pushes each
// fetch onto the program's items and annotates it in place): the run's first
// instruction gets the comment, labels before it are skipped, an earlier
// comment on it stays after the new one, and nothing before the run is touched.
import t from 'tap';
import { annotate, annotateFrom, exit, isLabel, label, mov64Imm, type AsmItem } from '../../bpf/asm.js';

const comments = (items: readonly AsmItem[]): (string | undefined)[] => items.map((i) => (isLabel(i) ? `label ${i.label}` : i.comment));

t.test('the first instruction at or after start, past labels, gets the comment', async (t) => {
  const items: AsmItem[] = [mov64Imm(1, 1), label('a'), label('b'), mov64Imm(2, 2), mov64Imm(3, 3)];
  annotateFrom('x=%di', items, 1);
  t.same(comments(items), [undefined, 'label a', 'label b', 'x=%di', undefined]);
});

t.test('an instruction already annotated keeps its comment after the new one', async (t) => {
  const items: AsmItem[] = [mov64Imm(1, 1), mov64Imm(2, 2)];
  annotateFrom('inner', items, 1);
  annotateFrom('outer', items, 1);
  t.same(comments(items), [undefined, 'outer; inner']);
});

t.test('a run of labels only, or an empty run, is left as it is', async (t) => {
  const items: AsmItem[] = [mov64Imm(1, 1), label('end')];
  annotateFrom('nothing', items, 1);
  annotateFrom('nothing', items, 2);
  t.same(comments(items), [undefined, 'label end']);
});

t.test('annotate is annotateFrom on the whole list', async (t) => {
  const build = (): AsmItem[] => [label('l'), mov64Imm(0, 0), exit()];
  const a = annotate('c', build());
  const b = build();
  annotateFrom('c', b, 0);
  t.same(comments(a), comments(b));
  t.same(comments(a), ['label l', 'c', undefined]);
});
