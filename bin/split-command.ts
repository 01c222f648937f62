// -c CMD: split like a shell would for simple commands (quotes and
// backslashes), without running a shell, so the traced pid is the command's.
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let any = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; any = true; }
    else if (c === '\\' && i + 1 < cmd.length) { cur += cmd[++i]; any = true; }
    else if (/\s/.test(c)) { if (any || cur) out.push(cur); cur = ''; any = false; }
    else cur += c;
  }
  if (quote) throw new Error(`-c: unterminated ${quote} quote`);
  if (any || cur) out.push(cur);
  return out;
}
