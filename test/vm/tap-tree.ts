// A TAP 14 reader for what tap 21 prints, just enough to rebuild the guest
// suite's results as a tree on the host: `# Subtest:` blocks indented by
// four, `ok`/`not ok` lines with `# SKIP`/`# TODO` directives, YAML
// diagnostics between `---` and `...` indented by two, `1..N`, `Bail out!`.
// Anything else (stray output) is ignored.

export interface TapResult {
  ok: boolean;
  id: number;
  name: string;
  skip?: string;
  todo?: string;
  /** The YAML diagnostic block, dedented, or ''. */
  diag: string;
  /** Results of the subtest this line closes, if it was one. */
  children: TapResult[];
  /** The `# ...` comments (t.comment) printed at this line's level since the result before it. */
  before: string[];
  /** The comments the subtest printed after its last result. tap's own `# time=` lines are left out of both. */
  comments: string[];
}

export interface TapDocument {
  results: TapResult[];
  bailOut?: string;
  /** Every top-level `# ...` comment, e.g. tap's `# { total: ..., pass: ... }`. */
  comments: string[];
  /** The top-level comments after the last result (where tap's summary is). */
  trailing: string[];
}

const RESULT = /^(not )?ok(?: (\d+))?(?: -)?(?: (.*))?$/;

/** Splits `name # SKIP why` at the last unescaped ` # `. */
function splitDirective(text: string): { name: string; skip?: string; todo?: string } {
  const at = text.search(/ (?<!\\)# (?!.* (?<!\\)# )/);
  if (at < 0) return { name: text.replace(/\\#/g, '#') };
  const name = text.slice(0, at).replace(/\\#/g, '#');
  const directive = text.slice(at + 3);
  const m = /^(SKIP|TODO)\S*\s*(.*)$/i.exec(directive);
  if (!m) return { name }; // `# time=12ms` and the like
  return m[1]!.toUpperCase() === 'SKIP' ? { name, skip: m[2] ?? '' } : { name, todo: m[2] ?? '' };
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const blank = (line: string) => line.trim() === '';

class Reader {
  i = 0;
  constructor(readonly lines: string[]) {}

  /** Reads one nesting level whose lines start with `indent` spaces, up to the first line that dedents. */
  level(indent: number, doc?: TapDocument): { results: TapResult[]; comments: string[] } {
    const out: TapResult[] = [];
    let comments: string[] = [];
    let pending: { results: TapResult[]; comments: string[] } | undefined;
    while (this.i < this.lines.length) {
      const line = this.lines[this.i]!;
      if (blank(line)) { this.i++; continue; }
      if (indentOf(line) < indent) break;
      const text = line.slice(indent);
      if (indentOf(line) > indent) { this.i++; continue; }
      this.i++;
      if (text.startsWith('# Subtest')) {
        pending = this.level(indent + 4);
        continue;
      }
      const m = RESULT.exec(text);
      if (m) {
        const { name, skip, todo } = splitDirective(m[3] ?? '');
        const r: TapResult = { ok: !m[1], id: Number(m[2] ?? out.length + 1), name, diag: this.yaml(indent + 2), children: pending?.results ?? [], before: comments, comments: pending?.comments ?? [] };
        if (skip !== undefined) r.skip = skip;
        if (todo !== undefined) r.todo = todo;
        out.push(r);
        pending = undefined;
        comments = [];
        continue;
      }
      if (doc && text.startsWith('Bail out!')) doc.bailOut = text.slice('Bail out!'.length).trim();
      else if (text.startsWith('#') && !/^# time=/.test(text)) comments.push(text.slice(1).trim());
    }
    return { results: out, comments };
  }

  /** A `---` ... `...` block right after a result line, dedented. */
  private yaml(indent: number): string {
    const open = this.lines[this.i];
    if (open === undefined || open.trim() !== '---' || indentOf(open) !== indent) return '';
    const body: string[] = [];
    for (this.i++; this.i < this.lines.length; this.i++) {
      const line = this.lines[this.i]!;
      if (line.trim() === '...' && indentOf(line) === indent) { this.i++; break; }
      body.push(line.slice(Math.min(indent, indentOf(line))));
    }
    return body.join('\n');
  }
}

export function parseTap(text: string): TapDocument {
  const doc: TapDocument = { results: [], comments: [], trailing: [] };
  const top = new Reader(text.replace(/\r/g, '').split('\n')).level(0, doc);
  doc.results = top.results;
  doc.trailing = top.comments;
  doc.comments = [...top.results.flatMap((r) => r.before), ...top.comments];
  return doc;
}

/** Every failing leaf, with its path of subtest names: what a reader needs first. */
export function failures(results: TapResult[], path: string[] = []): { path: string[]; result: TapResult }[] {
  return results.flatMap((r) => {
    if (r.ok || r.todo !== undefined) return [];
    const below = failures(r.children, [...path, r.name]);
    return below.length ? below : [{ path, result: r }];
  });
}

/**
 * The subtests a cut-off stream had begun and not finished, outermost
 * first: where a guest was when its kernel died. A subtest's `# Subtest:`
 * comment and its result line share one indent.
 */
export function unfinished(text: string): string[] {
  const open: { indent: number; name: string }[] = [];
  for (const line of text.split('\n')) {
    const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (sub) { open.push({ indent: sub[1].length, name: sub[2] }); continue; }
    const res = /^(\s*)(?:not )?ok \d+/.exec(line);
    if (!res) continue;
    const indent = res[1].length;
    while (open.length > 0 && open[open.length - 1].indent >= indent) open.pop();
  }
  return open.map((s) => s.name);
}
