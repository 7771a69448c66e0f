/**
 * The contractor API's input forms, each turned into a list of keyValues items (pure functions):
 *
 * - JSON (application/json): one object or an array of objects;
 * - NDJSON (application/x-ndjson, application/ndjson): one JSON object per line, blank lines
 *   ignored; a line that is not a JSON object becomes a rejected item (the others go on);
 * - CSV (text/csv) with a header row, parsed with csv-parse:
 *   - a UTF-8 BOM is dropped; RFC 4180 quoting ("a;b", "line\nbreak", "say ""hi""");
 *   - the delimiter is detected from the header line among `,` `;` and tab (the most frequent
 *     outside quotes; `,` when none);
 *   - column names are keyValues members; dotted names build nested members
 *     (`address.addressLocality`); `<geo>.lon` + `<geo>.lat` (also `longitude`/`latitude`) on a
 *     GeoProperty such as `location` build a GeoJSON Point; `location` itself may hold a GeoJSON
 *     geometry as JSON, and `location.type` + `location.coordinates` (a JSON array) work too;
 *   - cells are typed by the type's JSON Schema: where the member may be a number/integer, a
 *     numeric cell becomes a number (with the `;` delimiter a decimal comma is accepted: `12,5`
 *     → 12.5); boolean members take true/false; object and array members take JSON (arrays of
 *     strings also a comma-separated list); everything else stays a string, so the schema
 *     validation reports what does not fit, with the member's pointer;
 *   - empty cells are absent members; `type` may be left out (the type of the URL is used);
 *   - a row with more or fewer cells than the header is a rejected item.
 * Items that cannot be read at all are `UnreadableItem`s: ingestItems reports them as rejected.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { badRequestData } from '../ngsi-ld/errors';
import { assertJsonDepth, assertStorableText } from '../ngsi-ld/http';
import { NgsiError } from '../ngsi-ld/errors';
import { entityTypeSpec, type EntityTypeSpec } from '../domain/sdm-types';
import type { IngestIssue } from './types';
import { isRecord } from '../ngsi-ld/json';

/** An item of the input that could not be read (bad JSON line, ragged CSV row); rejected as is. */
export class UnreadableItem {
  constructor(readonly errors: IngestIssue[]) {}
}

/** Items of a request, with the source line each starts on (NDJSON, CSV). */
export interface ParsedItems {
  items: unknown[];
  /** 1-based line of each item in the body (NDJSON, CSV); absent for JSON */
  lines?: number[];
}

// --- JSON ------------------------------------------------------------------------------------------

/** application/json: an object (one item) or an array of items. */
export function parseJsonItems(body: unknown): ParsedItems {
  if (Array.isArray(body)) return { items: body };
  if (isRecord(body)) return { items: [body] };
  throw badRequestData('the body must be a JSON object (one item) or an array of objects');
}

// --- NDJSON ----------------------------------------------------------------------------------------

export interface NdjsonOptions {
  maxJsonDepth?: number;
}

/** application/x-ndjson: one JSON object per line; blank lines ignored; bad lines become UnreadableItems. */
export function parseNdjson(text: string, opts: NdjsonOptions = {}): ParsedItems {
  const items: unknown[] = [];
  const lines: number[] = [];
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  source.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    lines.push(i + 1);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      items.push(new UnreadableItem([{ pointer: '/', reason: `line ${i + 1}: invalid JSON: ${(err as Error).message}` }]));
      return;
    }
    try {
      if (!isRecord(value)) throw badRequestData('must be a JSON object');
      assertJsonDepth(value, opts.maxJsonDepth ?? 32);
      assertStorableText(value, 'the item');
      items.push(value);
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      items.push(new UnreadableItem([{ pointer: '/', reason: `line ${i + 1}: ${err.detail}` }]));
    }
  });
  if (items.length === 0) throw badRequestData('the NDJSON body has no items');
  return { items, lines };
}

// --- CSV -------------------------------------------------------------------------------------------

const DELIMITERS = [',', ';', '\t'] as const;
export type CsvDelimiter = (typeof DELIMITERS)[number];

/** The delimiter of a CSV text: the most frequent of , ; tab in its header line, outside quotes. */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best: CsvDelimiter = ',';
  for (const d of DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return best;
}

type CsvRow = { record: string[]; info: { bytes: number } };

/** text/csv with a header row → keyValues items of `type`, typed by its schema. */
export function parseCsv(text: string, type: string): ParsedItems {
  const spec = entityTypeSpec(type);
  if (!spec) throw badRequestData(`unsupported entity type ${JSON.stringify(type)}`);
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const delimiter = detectDelimiter(source);
  let rows: CsvRow[];
  try {
    rows = parseCsvSync(source, {
      delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
    }) as unknown as CsvRow[];
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw badRequestData(`invalid CSV${e.lines ? ` at line ${e.lines}` : ''}: ${e.message}`);
  }
  if (rows.length === 0) throw badRequestData('the CSV body is empty: a header row is required');
  const header = rows[0].record.map((h) => h.trim());
  const seen = new Set<string>();
  for (const [i, name] of header.entries()) {
    if (name === '') throw badRequestData(`CSV header: column ${i + 1} has no name`);
    if (!/^[^.]+(\.[^.]+)*$/.test(name)) throw badRequestData(`CSV header: column name '${name}' is not a member name or a dotted path`);
    if (seen.has(name)) throw badRequestData(`CSV header: column '${name}' appears twice`);
    seen.add(name);
  }
  if (rows.length === 1) throw badRequestData('the CSV body has a header row but no data rows');

  const decimalComma = delimiter === ';';
  const items: unknown[] = [];
  const lines: number[] = [];
  // the line a record starts on: count line feeds up to the end of the previous record (info.bytes),
  // past the empty lines skipped in between (csv-parse's own line count treats quoted CRLF as two)
  const buf = Buffer.from(source, 'utf8');
  let pos = 0;
  let lineNo = 1;
  for (let r = 1; r < rows.length; r++) {
    let start = rows[r - 1].info.bytes;
    while (start < buf.length && (buf[start] === 0x0a || buf[start] === 0x0d)) start++;
    for (; pos < start; pos++) if (buf[pos] === 0x0a) lineNo++;
    const line = lineNo;
    const { record } = rows[r];
    lines.push(line);
    if (record.length !== header.length) {
      items.push(new UnreadableItem([{
        pointer: '/',
        reason: `line ${line}: the row has ${record.length} fields, the header ${header.length}`,
      }]));
      continue;
    }
    const item = rowToItem(spec, header, record, decimalComma, line);
    items.push(item);
  }
  return { items, lines };
}

function rowToItem(spec: EntityTypeSpec, header: string[], record: string[], decimalComma: boolean, line: number): unknown {
  const item: Record<string, unknown> = {};
  const errors: IngestIssue[] = [];
  for (let c = 0; c < header.length; c++) {
    const cell = record[c];
    if (cell.trim() === '') continue;
    const path = header[c].split('.');
    try {
      if (path.length === 2 && spec.geoProperties.includes(path[0]) && path[1] in COORD) {
        const point = (item[path[0]] ??= { type: 'Point', coordinates: [undefined, undefined] }) as { coordinates: unknown[] };
        if (!Array.isArray(point.coordinates)) throw new Error(`cannot combine ${header[c]} with other ${path[0]} columns`);
        point.coordinates[COORD[path[1]]] = toNumberOrString(cell, decimalComma);
        continue;
      }
      setPath(item, path, typedCell(spec.type, path, cell, decimalComma));
    } catch (err) {
      errors.push({ pointer: pointerOf(path), reason: `line ${line}: ${(err as Error).message}` });
    }
  }
  for (const geo of spec.geoProperties) {
    const v = item[geo] as { coordinates?: unknown[] } | undefined;
    if (isRecord(v) && Array.isArray(v.coordinates) && v.coordinates.some((x) => x === undefined)) {
      errors.push({ pointer: `/${geo}`, reason: `line ${line}: ${geo}.lon and ${geo}.lat must both be given` });
    }
  }
  if (errors.length) return new UnreadableItem(errors);
  if (item.type === undefined) item.type = spec.type;
  return item;
}

const COORD: Record<string, number> = { lon: 0, lat: 1, longitude: 0, latitude: 1 };

const pointerOf = (path: string[]): string => '/' + path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function setPath(item: Record<string, unknown>, path: string[], value: unknown): void {
  let node = item;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node[path[i]];
    if (next === undefined) node = node[path[i]] = {} as Record<string, unknown>;
    else if (isRecord(next)) node = next;
    else throw new Error(`column ${path.join('.')} conflicts with column ${path.slice(0, i + 1).join('.')}`);
  }
  const last = path[path.length - 1];
  if (last in node) throw new Error(`column ${path.join('.')} conflicts with another column`);
  node[last] = value;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

function parseNumber(cell: string, decimalComma: boolean): number | undefined {
  const s = cell.trim();
  if (NUMBER.test(s)) return Number(s);
  if (decimalComma && DECIMAL_COMMA.test(s)) return Number(s.replace(',', '.'));
  return undefined;
}

const toNumberOrString = (cell: string, decimalComma: boolean): number | string => parseNumber(cell, decimalComma) ?? cell;

/** A cell's value as the schema types the member at `path`. */
function typedCell(type: string, path: string[], cell: string, decimalComma: boolean): unknown {
  const types = memberTypes(type, path);
  const trimmed = cell.trim();
  if (types.has('number') || types.has('integer')) {
    const n = parseNumber(trimmed, decimalComma);
    if (n !== undefined) return n;
  }
  if (types.has('boolean') && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === 'true';
  if ((types.has('object') && trimmed.startsWith('{')) || (types.has('array') && trimmed.startsWith('['))) {
    try {
      return JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`not valid JSON: ${(err as Error).message}`);
    }
  }
  if (types.has('array') && !types.has('string')) {
    const itemTypes = memberTypes(type, [...path, '[]']);
    return trimmed.split(',').map((s) => s.trim()).filter(Boolean).map((s) =>
      itemTypes.has('number') || itemTypes.has('integer') ? (parseNumber(s, false) ?? s) : s);
  }
  return cell;
}

// --- what the schema says about a member (for typing CSV cells) ------------------------------------

type Schema = Record<string, unknown>;

const SCHEMAS_DIR = ((): string => {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'smart-data-models', 'shared-schemas'))) return candidate;
  }
  throw new Error(`schemas/ folder not found above ${__dirname}`);
})();

let shared: Map<string, Schema> | undefined;
const typeSchemas = new Map<string, Schema>();
const typeCache = new Map<string, Set<string>>();

function sharedSchemas(): Map<string, Schema> {
  if (!shared) {
    shared = new Map();
    const dir = join(SCHEMAS_DIR, 'smart-data-models', 'shared-schemas');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Schema;
      shared.set(String(s.$id), s);
    }
  }
  return shared;
}

function typeSchema(type: string): Schema {
  let s = typeSchemas.get(type);
  if (!s) {
    const spec = entityTypeSpec(type)!;
    const file = spec.origin === 'sdm'
      ? join(SCHEMAS_DIR, 'smart-data-models', type, 'schema.json')
      : join(SCHEMAS_DIR, 'smartland', `${type}.schema.json`);
    s = JSON.parse(readFileSync(file, 'utf8')) as Schema;
    typeSchemas.set(type, s);
  }
  return s;
}

const RAW_GITHUB = /^https:\/\/raw\.githubusercontent\.com\/smart-data-models\/([^/]+)\/master\/(.+)$/;

/** [schema, document it lives in] for a $ref */
function deref(ref: string, base: Schema): [Schema, Schema] | undefined {
  const [url, fragment = ''] = ref.split('#');
  const canonical = url.replace(RAW_GITHUB, 'https://smart-data-models.github.io/$1/$2');
  const doc = url ? sharedSchemas().get(canonical) : base;
  if (!doc) return undefined;
  let node: unknown = doc;
  for (const p of fragment.split('/').filter(Boolean)) {
    node = isRecord(node) ? node[decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  return isRecord(node) ? [node, doc] : undefined;
}

/** A schema with its $ref / allOf / anyOf / oneOf alternatives, flattened. */
function flatten(schema: Schema, base: Schema, out: [Schema, Schema][] = [], depth = 0): [Schema, Schema][] {
  if (depth > 16) return out;
  out.push([schema, base]);
  if (typeof schema.$ref === 'string') {
    const r = deref(schema.$ref, base);
    if (r) flatten(r[0], r[1], out, depth + 1);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    const list = schema[k];
    if (Array.isArray(list)) for (const s of list) if (isRecord(s)) flatten(s, base, out, depth + 1);
  }
  return out;
}

/** The JSON types a member (path of names; '[]' = array items) may have under a type's schema. */
export function memberTypes(type: string, path: string[]): Set<string> {
  const key = `${type}\u0000${path.join('\u0000')}`;
  let types = typeCache.get(key);
  if (types) return types;
  const root = typeSchema(type);
  let nodes: [Schema, Schema][] = [[root, root]];
  for (const step of path) {
    const next: [Schema, Schema][] = [];
    for (const [node, base] of nodes) {
      for (const [flat, b] of flatten(node, base)) {
        const child = step === '[]' ? flat.items : (flat.properties as Schema | undefined)?.[step];
        if (isRecord(child)) next.push([child, b]);
      }
    }
    nodes = next;
  }
  types = new Set<string>();
  for (const [node, base] of nodes) {
    for (const [flat] of flatten(node, base)) {
      if (typeof flat.type === 'string') types.add(flat.type);
      if (Array.isArray(flat.type)) for (const t of flat.type) types.add(String(t));
      const values = Array.isArray(flat.enum) ? flat.enum : 'const' in flat ? [flat.const] : [];
      for (const v of values) types.add(v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    }
  }
  typeCache.set(key, types);
  return types;
}
