// Why a probe could not be attached: which perf event operation the kernel
// refused and its errno, the refused system call kept as the cause. The
// tracer tells a kernel refusing sleepable programs (EINVAL on SET_BPF) from
// other failures by these fields, not by the message text.
import { ErrnoError, KprobeBpfError } from '../../lib/errors.js';

/** The step of attaching a BPF program to a probe's perf event. */
export type AttachOp = 'PERF_EVENT_IOC_SET_BPF' | 'PERF_EVENT_IOC_ENABLE';

export class AttachError extends ErrnoError {
  constructor(
    readonly op: AttachOp,
    /** The probe, as ProbeAttachment.description says it. */
    readonly probe: string,
    errno: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, errno, options);
  }
}

/** A probe that cannot be set up before any system call refuses it: its place, the PMU's format, tracefs. */
export class ProbeSetupError extends KprobeBpfError {}
