/** Structured logs (pino, JSON to stderr) with the component name on every line. */
import pino, { type Logger } from 'pino';
import { coreSettings } from './config.js';

export type { Logger };

export function createLogger(component: string, level: string = coreSettings.load().logLevel): Logger {
  return pino({ name: `driftline.${component}`, level, base: { component } }, pino.destination({ fd: 2, sync: false }));
}
