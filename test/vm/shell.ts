// POSIX sh quoting for the run.sh the guest's /init executes.

/** One word for sh, single-quoted unless it is plainly safe. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The script the guest runs: cd into the caller's cwd, then exec the command with exactly env. */
export function runScript(command: string[], cwd: string, env: Record<string, string>): string {
  if (command.length === 0) throw new Error('runInGuest: empty command');
  const vars = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`runInGuest: bad environment variable name ${JSON.stringify(k)}`);
    return shQuote(`${k}=${v}`);
  });
  return [
    `cd ${shQuote(cwd)} || exit 125`,
    `exec env -i ${vars.join(' ')} ${command.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}
