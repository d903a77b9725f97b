// A small leveled logger to stderr. Components log through a child with their own prefix.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  child(component: string): Logger;
}

export type LogSink = (line: string) => void;

export function createLogger(level: LogLevel = 'info', sink: LogSink = (line) => process.stderr.write(line + '\n'), component = ''): Logger {
  const threshold = RANK[level];
  const emit = (at: LogLevel, message: string): void => {
    if (RANK[at] < threshold) return;
    const prefix = component === '' ? '' : `${component}: `;
    sink(`${new Date().toISOString()} ${at.padEnd(5)} ${prefix}${message}`);
  };
  return {
    debug: (message) => emit('debug', message),
    info: (message) => emit('info', message),
    warn: (message) => emit('warn', message),
    error: (message) => emit('error', message),
    child: (name) => createLogger(level, sink, component === '' ? name : `${component}/${name}`),
  };
}

export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}
