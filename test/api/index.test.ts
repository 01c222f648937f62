// The library facade: parse and compile give what the CLI gives, check the
// verifier's verdicts, and a trace session yields decoded events through its
// async iterator and ends with the traced command.
import t from 'tap';
import { check, compile, parse, trace, ProbeSyntaxError, type TraceEvent } from '../../api/index.js';
import { buildTarget } from '../runtime/lib/target.js';

t.test('parse gives the definitions and applies removals; a bad line throws ProbeSyntaxError', async (t) => {
  const defs = parse('p:api/a /bin/true:0x10 x=%di:u32\np:api/b /bin/true:0x20\n-:api/b');
  t.same(defs.map((d) => `${d.group}/${d.event}`), ['api/a']);
  t.throws(() => parse('p:api/bad /bin/true:0x10 x=%zz'), ProbeSyntaxError);
});

t.test('compile gives an ELF object with one program per event', async (t) => {
  const c = compile('p:api/a /bin/true:0x10 x=%di:u32\np:api/b /bin/true:0x20');
  t.same([...c.object.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  t.equal(c.programs.length, 2);
});

const isRoot = process.geteuid?.() === 0;
t.test('check passes our programs through the verifier', { skip: isRoot ? false : 'needs root (loads BPF)' }, async (t) => {
  const r = check(compile('p:api/a /bin/true:0x10 x=%di:u32').object);
  t.equal(r.ok, true, r.error);
  t.same(r.verdicts.map((v) => v.error), ['']);
});

t.test('a trace session yields each hit as an event and ends with the command', { skip: isRoot ? false : 'needs root (attaches uprobes)' }, async (t) => {
  const target = buildTarget();
  t.teardown(target.cleanup);
  const session = trace({ lines: `p:api/hot ${target.path}:kpb_hot i=%di:s32`, command: [target.path, '0', '3'] });
  const events: TraceEvent[] = [];
  for await (const e of session) events.push(e);
  const { status, stderr } = await session.done;
  t.equal(status, 0, stderr);
  t.same(events.map((e) => [e.group, e.event, e.comm, e.args]), [0, 1, 2].map((i) => ['api', 'hot', 'kpbtarget', { i }]));
});
