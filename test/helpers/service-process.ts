import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * The real service (src/server.ts) in a child process, for tests that must kill it (SIGKILL: no
 * shutdown hook runs, like a crash). The TypeScript sources are compiled on load with @swc/core,
 * the compiler jest already uses, so no build step is needed.
 */
export interface ServiceProcess {
  /** http://127.0.0.1:PORT, from the "Server listening at" log line */
  url: string;
  child: ChildProcess;
  /** everything the process printed (for failure messages) */
  output: () => string;
  /** SIGKILL, resolves when the process is gone */
  kill: () => Promise<void>;
  /** SIGTERM (graceful shutdown), resolves when the process is gone */
  stop: () => Promise<void>;
}

const ROOT = join(__dirname, '..', '..');

// registers .ts compilation, then runs the server (module paths inside are relative to ROOT)
const LAUNCHER = `
const swc = require('@swc/core');
require.extensions['.ts'] = (m, filename) => {
  const { code } = swc.transformFileSync(filename, {
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' }, sourceMaps: false,
  });
  m._compile(code, filename);
};
require(${JSON.stringify(join(ROOT, 'src', 'server.ts'))});
`;

export async function startServiceProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['-e', LAUNCHER], {
    cwd: ROOT,
    // only what the test names, plus PATH/HOME: the parent's DATABASE_URL etc. must not leak in
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-65_536);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  const end = (signal: NodeJS.Signals) => async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { url, child, output: () => out, kill: end('SIGKILL'), stop: end('SIGTERM') };
}
