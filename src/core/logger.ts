import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'slipway'): Logger {
  return pino({ name, level }, pino.destination(2));
}
