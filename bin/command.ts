// The shape every subcommand module exports as default.
export interface Command {
  /** Runs with the arguments after the subcommand name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}
