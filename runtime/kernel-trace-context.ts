// The running kernel's rules for the flags column (compiler/codegen-flags-rules.ts):
// its release, and CONFIG_PREEMPTION, CONFIG_KALLSYMS_ALL, CONFIG_PREEMPT_RCU
// and CONFIG_PREEMPT_COUNT from the config it publishes.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_TRACE_CONTEXT_RULES, traceContextRulesFor, type TraceContextRules } from '../compiler/codegen-flags-rules.js';

/**
 * The running kernel's config text, if it publishes it: /proc/config.gz
 * (CONFIG_IKCONFIG_PROC), else its file in /boot (Debian, Ubuntu) or in its
 * modules directory (Fedora).
 */
function kernelConfig(): string | undefined {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  } catch {
    for (const path of [`/boot/config-${release()}`, `/lib/modules/${release()}/config`]) {
      try {
        return readFileSync(path, 'latin1');
      } catch {
        // the next place
      }
    }
    return undefined;
  }
}

/**
 * The running kernel's rules; without a readable config, CONFIG_PREEMPTION
 * as the default assumes and no per-CPU symbols (kprobe flags stay 0).
 */
export function hostTraceContextRules(): TraceContextRules {
  const config = kernelConfig();
  if (config === undefined) return traceContextRulesFor(release(), DEFAULT_TRACE_CONTEXT_RULES.preemption);
  const set = (name: string) => new RegExp(`^CONFIG_${name}=y$`, 'm').test(config);
  return traceContextRulesFor(release(), set('PREEMPTION'), {
    kallsymsAll: set('KALLSYMS_ALL'), preemptRcu: set('PREEMPT_RCU'), preemptCount: set('PREEMPT_COUNT'),
  });
}
