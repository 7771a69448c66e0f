import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader } from '../helpers/app';
import { WEATHER_CTX } from '../helpers/ngsi';
import { runSeed } from '../../src/cli/seed';

/**
 * The dashboard in a real browser: Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium)
 * driven by playwright-core, headless, with a fresh profile. The seeded valley is shown (the four
 * municipalities on the map and in the list, the corridor × municipality matrix); after
 * measurements are pushed, the live update draws the sensor's history, and a project's reported
 * progress appears in the matrix. The screenshot is kept in test-artifacts/dashboard.png.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const SENSOR = 'urn:ngsi-ld:WeatherObserved:InValmalenco-sample-weather-chiesa';
const MUNICIPALITIES = ['Chiesa in Valmalenco', 'Caspoggio', 'Lanzada', 'Spriana'];

let app: FastifyInstance;
let base: string;
let profile: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  ({ app } = await openTestApp({ AUTH: 'off' }));
  const seeded = await runSeed({ broker: app.broker, contexts: app.contexts });
  expect(seeded.failed).toEqual([]);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  profile = mkdtempSync(join(os.tmpdir(), 'smartland-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the page shows the seeded valley: four municipalities, the corridor matrix, the map', async () => {
  // script errors and console errors (a CSP violation is one) fail the test
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(`${base}/`);
  expect(page.url()).toBe(`${base}/dashboard`);
  // locators wait in Playwright's own world: the page's CSP (no eval) does not apply to them
  await page.locator('#municipalities li').nth(3).waitFor({ timeout: 30_000 });
  expect(await page.locator('#municipalities li').count()).toBe(4);
  const listed = await page.locator('#municipalities li').allTextContents();
  for (const name of MUNICIPALITIES) expect(listed.some((l) => l.includes(name))).toBe(true);
  // the matrix: six corridors × four municipalities, projects in their cells
  expect(await page.locator('#matrix tbody tr').count()).toBe(6);
  const columns = await page.locator('#matrix thead th').allTextContents();
  expect(columns).toHaveLength(5);
  for (const name of MUNICIPALITIES) expect(columns.some((c) => c.includes(name))).toBe(true);
  expect(await page.locator('#matrix .project').count()).toBeGreaterThanOrEqual(12);
  expect(await page.locator('#matrix tr', { hasText: 'Mobility' }).locator('.project').count()).toBeGreaterThan(0);
  // the map: a marker per place, the municipalities named
  expect(await page.locator('#map .leaflet-interactive').count()).toBeGreaterThan(20);
  const tooltips = await page.locator('#map .leaflet-tooltip').allTextContents();
  for (const name of MUNICIPALITIES) expect(tooltips.some((t) => t.includes(name))).toBe(true);
  expect(errors).toEqual([]);
}, 60_000);

test('a chart of the sensor appears when measurements are pushed (live update)', async () => {
  await page.selectOption('#sensor', SENSOR);
  await page.locator('#chart-note', { hasText: 'Not enough history' }).waitFor();
  expect(await page.locator('#chart canvas').count()).toBe(0);
  await page.waitForSelector('#live.on');
  const start = Date.parse('2026-11-20T06:00:00Z');
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${base}/ngsi-ld/v1/entityOperations/upsert?options=update`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Link: linkHeader(WEATHER_CTX) },
      body: JSON.stringify([{
        id: SENSOR, type: 'WeatherObserved',
        temperature: { type: 'Property', value: 2 + Math.sin(i) * 3, unitCode: 'CEL', observedAt: new Date(start + i * 3600_000).toISOString() },
      }]),
    });
    expect(res.status).toBe(204);
  }
  await page.waitForSelector('#chart canvas', { timeout: 20_000 });
  expect(await page.locator('#attribute option:checked').textContent()).toBe('temperature');
  expect(await page.locator('#chart-note').textContent()).toBe('');
}, 60_000);

test('a progress report shows in the matrix: status and completion (live update)', async () => {
  const res = await fetch(`${base}/api/v1/projects/InValmalenco-sample-01/progress`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ status: 'inProgress', completion: 40 }),
  });
  expect(res.status).toBe(200);
  const project = page.locator('#matrix .project', { hasText: 'Sample project 01' });
  await project.locator('.status-inProgress').waitFor({ timeout: 20_000 });
  expect(await project.locator('progress').getAttribute('value')).toBe('40');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
}, 60_000);
