/**
 * The seeded valley: the ITI "In Valmalenco" programme, its six thematic corridors, the four
 * municipalities (facts with sources) and sample projects, actions, indicators, KPIs, devices and
 * observations for every data family. The data lives in seeds/valmalenco.json in keyValues form;
 * this module only turns it into normalized NGSI-LD, in file order (deterministic).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toNormalized } from './keyvalues-to-normalized';

export interface SeedItem {
  id: string;
  type: string;
  [attribute: string]: unknown;
}

// Works from src/ (jest) and dist/src/ (compiled): look upwards for seeds/.
const SEED_FILE = ((): string => {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'seeds', 'valmalenco.json');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`seeds/valmalenco.json not found above ${__dirname}`);
})();

const SEED_ITEMS: readonly SeedItem[] = (JSON.parse(readFileSync(SEED_FILE, 'utf8')) as { entities: SeedItem[] }).entities;

/** The seed entities in keyValues form, as contractors would send them (copies). */
export function seedItems(): SeedItem[] {
  return structuredClone(SEED_ITEMS) as SeedItem[];
}

/** The seed entities as normalized NGSI-LD, each with its @context, ready for an upsert. */
export function buildSeedEntities(): Record<string, unknown>[] {
  return SEED_ITEMS.map((item) => toNormalized(item.type, item));
}
