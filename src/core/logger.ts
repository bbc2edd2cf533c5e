/**
 * The one logger: pino, on stderr. A person at a terminal reads lines ("20:14:03 INFO
 * build web-3 complete namespace=demo"); a log collector, or anyone who asks for it with
 * SLIPWAY_LOG_FORMAT=json, gets one JSON object per line.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** `auto`: text when stderr is a terminal, JSON otherwise. */
export type LogFormat = 'auto' | 'text' | 'json';

export function createLogger(level: string, format: LogFormat = 'auto'): Logger {
  const text = format === 'text' || (format === 'auto' && process.stderr.isTTY === true);
  if (!text) return pino({ name: 'slipway', level }, pino.destination(2));
  return pino(
    { level },
    // In-process and synchronous: a line is out before the process exits on a signal.
    pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      singleLine: true,
    }),
  );
}
