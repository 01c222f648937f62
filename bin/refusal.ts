// The CLI's side of runtime/diagnose: asks before check or trace touches the
// kernel, prints the one line that says what is refused and what to do, and
// turns a refusal that still comes (EPERM/EACCES thrown later) into that line.
import type { ProbeSite } from '../compiler/abi.js';
import type { Need } from '../runtime/diagnose.js';
import type { InputValues } from './probe-input.js';

/** The probe definitions an object written by `kprobe-bpf compile` describes ([] for any other object). */
export async function definitionsOfObject(bytes: Uint8Array): Promise<ProbeSite[]> {
  const { eventsOfObject, probeSiteOf } = await import('../compiler/metadata.js');
  try {
    return eventsOfObject(bytes).map(probeSiteOf);
  } catch {
    return [];
  }
}

/** True (after saying why on stderr) when the kernel is known to refuse what `need` asks. */
export async function refusedBeforeStart(command: string, need: Need): Promise<boolean> {
  const { diagnose } = await import('../runtime/diagnose.js');
  const why = diagnose(need);
  if (why) process.stderr.write(`kprobe-bpf ${command}: ${why.message}\n`);
  return why !== undefined;
}

/** Runs the command's kernel part; an EPERM/EACCES a host cause explains becomes its line and exit 1. */
export async function explainingRefusals(command: string, need: Need, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    const { explainRefusal } = await import('../runtime/diagnose.js');
    const why = explainRefusal(e, need);
    if (!why) throw e;
    process.stderr.write(`kprobe-bpf ${command}: ${why.message}\n`);
    return 1;
  }
}

/**
 * What check asks: loading only; tracing programs when it checks lines or
 * our objects (another libbpf object may hold programs anyone may load).
 */
export async function checkNeed(input: InputValues, objects: readonly { bytes: Uint8Array }[]): Promise<Need> {
  const given = Boolean(input.e?.length || input.f?.length);
  // The lines are among `objects` already (compiled, their probe sites in its metadata): no second parse.
  const ours = (await Promise.all(objects.map((o) => definitionsOfObject(o.bytes)))).flat();
  return { tracing: given || ours.length > 0, attach: false, definitions: ours };
}
