// Chevrotain lexer and parser for the fetch-argument language — the recursive
// part of a probe argument (the text before its `:TYPE`):
//
//   fetcharg := %REG | $VAR | @ADDR | @SYM[+|-offs] | @+FILE_OFFS
//             | \IMM | \"STRING" | DEREF fetcharg ')'
//   DEREF    := (+|-)[u]OFFS'('
//
// It reads the plain form rules.ts hands over once the kernel's checks have
// passed: the kernel's leniencies (text after a dereference's last ')', the
// tail of "$retval...", any number base) are already resolved there, so the
// tokens here are the clean language.
import type { TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import type { FetchArg, RegName } from './ast.js';
import { kstrtol, kstrtoul } from './kstrto.js';

const { createToken, Lexer, EmbeddedActionsParser } = chevrotain;

const Reg = createToken({ name: 'Reg', pattern: /%[a-z0-9_]+/, start_chars_hint: ['%'] });
const Var = createToken({ name: 'Var', pattern: /\$(?:retval|stack[0-9]*|comm|arg[0-9]+)/, start_chars_hint: ['$'] });
const ImmString = createToken({ name: 'ImmString', pattern: /\\"[^]*"/, start_chars_hint: ['\\'] });
const Imm = createToken({ name: 'Imm', pattern: /\\[0-9]+/, start_chars_hint: ['\\'] });
const FileOffs = createToken({ name: 'FileOffs', pattern: /@\+-?[0-9]+/, start_chars_hint: ['@'] });
const MemAddr = createToken({ name: 'MemAddr', pattern: /@[0-9]+/, start_chars_hint: ['@'] });
// '@' alone is an empty symbol: the rules accept it like the kernel's parser does (the
// refusal comes at registration, see probe.ts), so it must lex too.
const SymRef = createToken({ name: 'SymRef', pattern: /@[^()]*/, start_chars_hint: ['@'] });
const DerefOpen = createToken({ name: 'DerefOpen', pattern: /[+-]u?[0-9]+\(/, start_chars_hint: ['+', '-'] });
const RParen = createToken({ name: 'RParen', pattern: /\)/, start_chars_hint: [')'] });

const ALL_TOKENS: TokenType[] = [Reg, Var, ImmString, Imm, FileOffs, MemAddr, SymRef, DerefOpen, RParen];

/** "+8(", "-u16(" */
function derefOf(image: string): { offset: bigint; user: boolean } {
  const user = image[1] === 'u';
  const digits = BigInt(image.slice(user ? 2 : 1, -1));
  return { offset: image[0] === '-' ? -digits : digits, user };
}

function varOf(name: string): FetchArg {
  if (name === 'retval') return { kind: 'retval' };
  if (name === 'comm') return { kind: 'comm' };
  if (name === 'stack') return { kind: 'stackp' };
  if (name.startsWith('stack')) return { kind: 'stack', index: Number(name.slice(5)) };
  return { kind: 'arg', index: Number(name.slice(3)) };
}

/** @SYM[+|-offs] split like traceprobe_split_symbol_offset. */
function symbolOf(text: string): FetchArg {
  const at = text.search(/[+-]/);
  if (at < 0) return { kind: 'symbol', symbol: text, offset: 0n };
  return { kind: 'symbol', symbol: text.slice(0, at), offset: kstrtol(text.slice(at)) ?? 0n };
}

class FetchArgParser extends EmbeddedActionsParser {
  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: false, maxLookahead: 1, skipValidations: true }); // grammar validated by the tests
    this.performSelfAnalysis();
  }

  readonly fetchArg = this.RULE('fetchArg', (): FetchArg => this.OR([
    { ALT: () => { const t = this.CONSUME(Reg); return this.ACTION(() => ({ kind: 'reg', reg: t.image.slice(1) as RegName }) as FetchArg); } },
    { ALT: () => { const t = this.CONSUME(Var); return this.ACTION(() => varOf(t.image.slice(1))); } },
    { ALT: () => { const t = this.CONSUME(ImmString); return this.ACTION(() => ({ kind: 'immstr', value: t.image.slice(2, -1) }) as FetchArg); } },
    { ALT: () => { const t = this.CONSUME(Imm); return this.ACTION(() => ({ kind: 'imm', value: BigInt(t.image.slice(1)) }) as FetchArg); } },
    { ALT: () => { const t = this.CONSUME(FileOffs); return this.ACTION(() => ({ kind: 'fileoffs', offset: BigInt(t.image.slice(2)) }) as FetchArg); } },
    { ALT: () => { const t = this.CONSUME(MemAddr); return this.ACTION(() => ({ kind: 'memaddr', address: kstrtoul(t.image.slice(1)) ?? 0n }) as FetchArg); } },
    { ALT: () => { const t = this.CONSUME(SymRef); return this.ACTION(() => symbolOf(t.image.slice(1))); } },
    { ALT: () => this.SUBRULE(this.deref) },
  ]));

  readonly deref = this.RULE('deref', (): FetchArg => {
    const open = this.CONSUME(DerefOpen);
    const inner = this.SUBRULE(this.fetchArg);
    this.CONSUME(RParen);
    return this.ACTION(() => ({ kind: 'deref', ...derefOf(open.image), inner }) as FetchArg);
  });
}

let built: { lexer: InstanceType<typeof Lexer>; parser: FetchArgParser } | undefined;

/** Built once per process, on first use (self-analysis costs a few ms). */
function instance(): { lexer: InstanceType<typeof Lexer>; parser: FetchArgParser } {
  built ??= { lexer: new Lexer(ALL_TOKENS, { positionTracking: 'onlyOffset', ensureOptimizations: true }), parser: new FetchArgParser() };
  return built;
}

/** Parses a fetch-argument body the kernel rules accepted into its AST. */
export function parseFetchArg(text: string): FetchArg {
  const { lexer, parser } = instance();
  const lexed = lexer.tokenize(text);
  if (lexed.errors.length > 0) throw new Error(`internal: fetch argument '${text}' does not lex: ${lexed.errors[0]!.message}`);
  parser.input = lexed.tokens;
  const result = parser.fetchArg();
  if (parser.errors.length > 0) throw new Error(`internal: fetch argument '${text}' does not parse: ${parser.errors[0]!.message}`);
  return result;
}
