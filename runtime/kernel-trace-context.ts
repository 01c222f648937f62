// The running kernel's rules for the flags column (compiler/codegen-flags-rules.ts):
// its release, and CONFIG_PREEMPTION from the config it publishes.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_TRACE_CONTEXT_RULES, traceContextRulesFor, type TraceContextRules } from '../compiler/codegen-flags-rules.js';

/** The running kernel's config text, if it publishes it (/proc/config.gz, or its /boot config). */
function kernelConfig(): string | undefined {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  } catch {
    try {
      return readFileSync(`/boot/config-${release()}`, 'latin1');
    } catch {
      return undefined;
    }
  }
}

/** The running kernel's rules; without a readable config, CONFIG_PREEMPTION as the default assumes. */
export function hostTraceContextRules(): TraceContextRules {
  const config = kernelConfig();
  const preemption = config === undefined ? DEFAULT_TRACE_CONTEXT_RULES.preemption : /^CONFIG_PREEMPTION=y$/m.test(config);
  return traceContextRulesFor(release(), preemption);
}
