import { loadConfig, ConfigError } from './config';
import { buildApp } from './app';
import { openStore } from './store/open';
import type { Config } from './config';

/** The only place that listens: config → store → app → listen; graceful shutdown on signals. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
  const db = await openStore(config);
  const app = await buildApp(config, { db });
  if (config.auth === 'off') {
    app.log.warn('AUTH=off: NO AUTHENTICATION. Every request acts as an admin on every tenant. Use this for local development only, never on a reachable network.');
  }
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  await app.listen({ port: config.port, host: config.host });
}

main().catch((err) => {
  process.stderr.write(`smartland failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
