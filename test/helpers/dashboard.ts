import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Builds the dashboard bundle (npm run build:dashboard) into dist/dashboard, where the service finds it. */
export function buildDashboard(): void {
  execFileSync('npm', ['run', '--silent', 'build:dashboard'], { cwd: join(__dirname, '..', '..'), stdio: 'inherit' });
}
