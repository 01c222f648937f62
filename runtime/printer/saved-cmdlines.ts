// --ftrace-comm: the comm ftrace prints is not the task's name at the hit but
// the last one it saved for the pid (kernel/trace/trace_sched_switch.c
// saved_cmdlines, refreshed at context switches after a traced event, read
// when the trace is printed): a hit before an exec or PR_SET_NAME shows the
// later name. We keep each pid's name from its latest record, and hold the
// records of a whole trace so every line prints with the name last seen.

const TASK_COMM_LEN = 16;

export class SavedCmdlines {
  private readonly names = new Map<number, Buffer>();
  private readonly held: Buffer[] = [];

  /** The comm at a record's hit becomes its pid's saved name. */
  save(pid: number, comm: Uint8Array, off: number): void {
    const name = comm.subarray(off, Math.min(off + TASK_COMM_LEN, comm.length));
    const cur = this.names.get(pid);
    // most records repeat their pid's name: copy only a new one
    if (!cur || Buffer.compare(cur, name) !== 0) this.names.set(pid, Buffer.from(name));
  }

  /** The pid's saved name (NUL-padded bytes), if any record of it was seen. */
  nameOf(pid: number): Buffer | undefined {
    return this.names.get(pid);
  }

  /** Holds a copy of a record to print once every record is in. */
  hold(buf: Buffer, off: number, len: number): void {
    this.held.push(Buffer.from(buf.subarray(off, off + len)));
  }

  /** The held records, in arrival order; the holder is emptied. */
  takeHeld(): Buffer[] {
    return this.held.splice(0);
  }
}
