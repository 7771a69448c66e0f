import { ensurePgliteTemplate } from './helpers/db';

/** Once per run, before the workers: the PGlite template every test file starts from. */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DATABASE_URL) await ensurePgliteTemplate();
}
