import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level; `silent` turns logging off. @default process.env.LOG_LEVEL ?? 'info' */
  readonly level?: string;
  /** Extra fields put on every line (pod, revision, ...). */
  readonly base?: Record<string, unknown>;
  /** Where lines go. @default stdout (synchronously, so nothing is lost when the process exits) */
  readonly destination?: pino.DestinationStream;
}

const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * One JSON line per event, `component` on every line: what Knative's zap loggers print, in pino's
 * shape. An unknown level falls back to `info` rather than failing start-up.
 */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const wanted = (options.level ?? process.env.LOG_LEVEL ?? 'info').toLowerCase();
  const level = (LEVELS.includes(wanted) ? wanted : 'info') as LevelWithSilent;
  return pino(
    {
      level,
      base: { component, pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
