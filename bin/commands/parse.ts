import type { Command } from '../command.js';
const parse: Command = { async run() { process.stderr.write('kprobe-bpf parse: not built yet\n'); return 1; } };
export default parse;
