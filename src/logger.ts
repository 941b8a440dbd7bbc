/** Structured logging (pino). `OFP_LOG_LEVEL` sets the level; `OFP_LOG_PRETTY=1` prints human-readable lines. */
import pino from 'pino';

export const logger = pino({
  level: process.env.OFP_LOG_LEVEL ?? 'info',
  base: { svc: 'ofp' },
  ...(process.env.OFP_LOG_PRETTY === '1'
    ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,svc' } } }
    : {}),
});

export type Logger = typeof logger;
