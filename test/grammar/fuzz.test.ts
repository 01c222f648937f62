// No argument text may crash the grammar: every 1-3 character body over the
// characters that steer the kernel's argument parser either parses or is
// refused with the kernel's error (ProbeSyntaxError), never an internal one
// (an '@' alone once reached the Chevrotain lexer and threw).
import t from 'tap';
import { parseProbeCommands, ProbeSyntaxError, type FileKind } from '../../grammar/index.js';

const CHARS = [...'@$%+-()\\":[]0x9azu '];
const fileKind = (): FileKind => 'regular';
const LINES: Record<string, (body: string) => string> = {
  'kprobe': (b) => `p:g/e vfs_read a=${b}`,
  'kprobe, unnamed': (b) => `p:g/e vfs_read ${b}`,
  'kretprobe': (b) => `r:g/e vfs_read a=${b}`,
  'uprobe': (b) => `p:g/e /usr/bin/ok:0x10 a=${b}`,
  'uprobe, unnamed': (b) => `p:g/e /usr/bin/ok:0x10 ${b}`,
};

function* bodies(): Generator<string> {
  for (const a of CHARS) {
    yield a;
    for (const b of CHARS) {
      yield a + b;
      for (const c of CHARS) yield a + b + c;
    }
  }
}

for (const [what, line] of Object.entries(LINES)) {
  t.test(`every 1-3 character body on a ${what} line parses or is a ProbeSyntaxError`, async (t) => {
    let accepted = 0;
    let refused = 0;
    const crashes: string[] = [];
    for (const body of bodies()) {
      try {
        parseProbeCommands(line(body), { fileKind });
        accepted++;
      } catch (e) {
        if (e instanceof ProbeSyntaxError) refused++;
        else crashes.push(`${JSON.stringify(body)}: ${(e as Error).message}`);
      }
    }
    t.comment(`${accepted} accepted, ${refused} refused, ${crashes.length} crashed`);
    t.same(crashes.slice(0, 20), [], 'no input throws anything but ProbeSyntaxError');
    t.ok(accepted > 0 && refused > 0, 'both outcomes occur (the corpus exercises the parser)');
  });
}
