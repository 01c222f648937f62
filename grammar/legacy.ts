// The 2009 grammar (the first kprobe tracer patch, v8): fetch args aN, sN, rv,
// ra written without names or types. Only parsed when asked for (--legacy),
// and rewritten word by word into today's syntax before the normal rules run,
// so the AST, the checks and the readback are the modern ones.
//   aN -> $arg<N+1>  (2009 counted arguments from 0)
//   sN -> $stackN
//   rv -> $retval    (return probes only, as then)
//   ra -> %ip        (in a return probe the ip is the return address)

const LEGACY_ATOM = /(^|\()(a[0-9]+|s[0-9]+|rv|ra)(?=\)|$)/g;

function rewriteAtom(atom: string): string {
  if (atom === 'rv') return '$retval';
  if (atom === 'ra') return '%ip';
  const n = Number(atom.slice(1));
  return atom[0] === 'a' ? `$arg${n + 1}` : `$stack${n}`;
}

/** Rewrites one 2009 fetch argument; a bare legacy atom keeps its 2009 spelling as the field name. */
export function translateLegacyArg(word: string): string {
  if (word.includes('=')) return word;
  const body = word.replace(LEGACY_ATOM, (_m, open: string, atom: string) => open + rewriteAtom(atom));
  if (body === word) return word;
  return /^(a[0-9]+|s[0-9]+|rv|ra)$/.test(word) ? `${word}=${body}` : body;
}

/** Rewrites a 2009 definition's words (argv[2..]); the head and place need no change. */
export function translateLegacyArgv(argv: readonly string[]): string[] {
  if (argv.length < 2 || argv[0]![0] === '-') return [...argv];
  return [argv[0]!, argv[1]!, ...argv.slice(2).map(translateLegacyArg)];
}
