import { ensurePgliteTemplate } from './helpers/db';
import { buildDashboard } from './helpers/dashboard';

/** Once per run, before the workers: the PGlite template every test file starts from, the dashboard bundle. */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DATABASE_URL) await ensurePgliteTemplate();
  // fresh from the sources, so that the dashboard tests test them (npm run build:dashboard, ~1 s)
  buildDashboard();
}
