// kernel: calc_stack(), the first pass over a filter: quotes and parentheses
// must balance before anything else is looked at, and it sizes the parser's
// stacks (how deep the parentheses go, how many predicates at most).
import { byteAt, isSpace } from './ctype.js';
import type { FilterErrorAt } from './errors.js';
import { LINUX_ERRNO } from '../../lib/errno.js';

export interface StackSize { readonly parens: number; readonly preds: number }

const Q1 = 0x27, Q2 = 0x22, AMP = 0x26, BAR = 0x7c, OPEN = 0x28, CLOSE = 0x29;

/** The unmatched '(' nearest the end, scanning back (index 0 is never looked at, as in the kernel). */
function badOpen(str: string, open: number): number {
  let level = open;
  let quote = 0;
  for (let i = str.length - 1; i > 0; i--) {
    const c = byteAt(str, i);
    if (quote) { if (c === quote) quote = 0; continue; }
    if (c === OPEN) { if (level === open) return i; level--; }
    else if (c === CLOSE) level++;
    else if (c === Q1 || c === Q2) quote = c;
  }
  return 0;
}

/** Stack sizes, or the refusal: -3 ESRCH missing quote, -1 EPERM too few '(', -2 ENOENT too many '('. */
export function calcStack(str: string): StackSize | FilterErrorAt {
  let isPred = false, preds = 0, open = 1, maxOpen = 1, quote = 0, lastQuote = 0;
  for (let i = 0; i < str.length; i++) {
    const c = byteAt(str, i);
    if (isSpace(c)) continue;
    if (quote) { if (c === quote) quote = 0; continue; }
    if (c === Q1 || c === Q2) { quote = c; lastQuote = i; }
    else if ((c === AMP || c === BAR) && byteAt(str, i + 1) === c) { isPred = false; continue; }
    else if (c === OPEN) { isPred = false; open++; maxOpen = Math.max(maxOpen, open); continue; }
    else if (c === CLOSE) {
      isPred = false;
      if (open === 1) return { code: 'TOO_MANY_CLOSE', pos: i, errno: LINUX_ERRNO.EPERM };
      open--;
      continue;
    }
    if (!isPred) { preds++; isPred = true; }
  }
  if (quote) return { code: 'MISSING_QUOTE', pos: lastQuote, errno: LINUX_ERRNO.ESRCH };
  if (open !== 1) return { code: 'TOO_MANY_OPEN', pos: badOpen(str, open), errno: LINUX_ERRNO.ENOENT };
  return { parens: maxOpen, preds };
}
