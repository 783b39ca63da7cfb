/** What every `sori` command shares: its Io, and the usage error that exits 2. */
/** What every `sori` command runs with: its streams, environment and working directory (tests pass their own). */
export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Bad input from the user: the `sori` command exits 2 with a hint to --help. */
export class UsageError extends Error {}

export function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
