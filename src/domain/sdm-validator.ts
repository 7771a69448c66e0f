/**
 * Validates the keyValues form of the supported entity types against their JSON Schemas: the
 * vendored Smart Data Models schemas (schemas/smart-data-models/) and our own
 * (schemas/smartland/). Offline: every external $ref target is a vendored shared schema,
 * registered under each URL the schemas use for it. Schemas are added at module load and
 * compiled lazily, once per type.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ENTITY_TYPES, type EntityTypeSpec } from './sdm-types';

export interface ValidationIssue {
  /** JSON pointer (RFC 6901) of the failing member, "" for the item itself */
  pointer: string;
  message: string;
}

export type ValidationResult = { ok: true } | { ok: false; errors: ValidationIssue[] };

// Works from src/ (jest) and dist/src/ (compiled): look upwards for schemas/.
const SCHEMAS_DIR = ((): string => {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'smart-data-models', 'shared-schemas'))) return candidate;
  }
  throw new Error(`schemas/ folder not found above ${__dirname}`);
})();

const DIALECT_2020 = 'https://json-schema.org/draft/2020-12/schema';
const GITHUB_IO = /^https:\/\/smart-data-models\.github\.io\/([^/]+)\/(.+)$/;

type Schema = Record<string, unknown>;

const readJson = (path: string): Schema => JSON.parse(readFileSync(path, 'utf8')) as Schema;

/**
 * The draft-07 GeoJSON schemas and the GTFS one ('http://json-schema.org/schema#') use only
 * keywords whose meaning is the same in 2020-12 (type, enum, properties, items with one schema,
 * definitions as a plain $ref target); Ajv2020 knows no other meta-schema, so their $schema is
 * dropped rather than loading draft-07 semantics into the instance.
 */
function as2020(schema: Schema): Schema {
  if (schema.$schema === undefined || schema.$schema === DIALECT_2020) return schema;
  const { $schema: _dropped, ...rest } = schema;
  return rest;
}

/** Every URL a shared schema is referenced by: its $id and, for SDM ones, the raw GitHub copy. */
function urlsOf(schema: Schema): string[] {
  const id = String(schema.$id);
  const m = GITHUB_IO.exec(id);
  return m ? [id, `https://raw.githubusercontent.com/smart-data-models/${m[1]}/master/${m[2]}`] : [id];
}

function schemaFile(spec: EntityTypeSpec): string {
  return spec.origin === 'sdm'
    ? join(SCHEMAS_DIR, 'smart-data-models', spec.type, 'schema.json')
    : join(SCHEMAS_DIR, 'smartland', `${spec.type}.schema.json`);
}

/** Schemas vendored for reference but outside DESIGN.md's table; registered so that they compile too. */
const EXTRA_SDM_TYPES = ['Organization', 'WaterDistributionNetwork'];

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// Not in ajv-formats; only the SDM common schema's `email` uses it. Loose on purpose: a mailbox
// with an internationalised local part or domain.
ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);

const sharedDir = join(SCHEMAS_DIR, 'smart-data-models', 'shared-schemas');
for (const file of readdirSync(sharedDir).filter((f) => f.endsWith('.json')).sort()) {
  const schema = as2020(readJson(join(sharedDir, file)));
  for (const url of urlsOf(schema)) ajv.addSchema(schema, url);
}

/** schema $id per type name, for every schema registered (supported types and extras) */
const schemaIds = new Map<string, string>();
for (const spec of ENTITY_TYPES.values()) {
  const schema = readJson(schemaFile(spec));
  if (schema.$id !== spec.schemaId) throw new Error(`${schemaFile(spec)}: $id ${String(schema.$id)} is not ${spec.schemaId}`);
  ajv.addSchema(as2020(schema));
  schemaIds.set(spec.type, spec.schemaId);
}
for (const type of EXTRA_SDM_TYPES) {
  const schema = readJson(join(SCHEMAS_DIR, 'smart-data-models', type, 'schema.json'));
  ajv.addSchema(as2020(schema));
  schemaIds.set(type, String(schema.$id));
}

/** Every type with a registered schema: the supported ones plus the vendored extras. */
export const SCHEMA_TYPES: readonly string[] = [...schemaIds.keys()];

const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a type (compiled on first use); throws for a type without a schema. */
export function validatorFor(type: string): ValidateFunction {
  let validate = compiled.get(type);
  if (!validate) {
    const id = schemaIds.get(type);
    if (!id) throw new Error(`no JSON Schema for entity type ${JSON.stringify(type)}`);
    validate = ajv.getSchema(id);
    if (!validate) throw new Error(`schema ${id} did not compile`);
    compiled.set(type, validate);
  }
  return validate;
}

/** Validates an item in keyValues form (without "@context") against its type's schema. */
export function validateKeyValues(type: string, item: unknown): ValidationResult {
  if (!schemaIds.has(type)) {
    return { ok: false, errors: [{ pointer: '/type', message: `unsupported entity type ${JSON.stringify(type)}` }] };
  }
  const validate = validatorFor(type);
  return validate(item) ? { ok: true } : { ok: false, errors: issues(validate.errors ?? []) };
}

/**
 * Ajv errors as pointer + reason, one per distinct pair. The alternatives of anyOf/oneOf each
 * report their own failure; the summary "must match a schema in anyOf" is kept only when no
 * alternative said anything more precise about that member.
 */
function issues(errors: ErrorObject[]): ValidationIssue[] {
  const out = new Map<string, ValidationIssue>();
  const precise = new Set<string>();
  const summaries: ValidationIssue[] = [];
  for (const e of errors) {
    const issue = { pointer: pointerOf(e), message: messageOf(e) };
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      summaries.push(issue);
      continue;
    }
    precise.add(issue.pointer);
    out.set(`${issue.pointer}\u0000${issue.message}`, issue);
  }
  for (const s of summaries) if (!precise.has(s.pointer)) out.set(`${s.pointer}\u0000${s.message}`, s);
  return [...out.values()];
}

const escapeToken = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The failing member: for required / additional / unevaluated properties, the member named in params. */
function pointerOf(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  const member = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
  return member === undefined ? e.instancePath : `${e.instancePath}/${escapeToken(String(member))}`;
}

function messageOf(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'is not an attribute of this type';
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'format':
      return `must be a valid ${String(params.format)}`;
    default:
      return e.message ?? `fails ${e.keyword}`;
  }
}
