/**
 * EntityQuery (parsed, expanded) → the body of POST /entityOperations/query for an external broker.
 *
 * Names go out as the IRIs they expanded to. An IRI cannot always stand in a q path: the grammar
 * ends a `scheme://` name only at an operator, so `https://…/dataModel.Weather/temperature.observedAt`
 * would read as one name, and a URN ends at its first '.'. Such names get a short alias term in an
 * inline @context sent with the query (the broker compacts its answer with the same context, which
 * the caller uses to read it). VocabProperty values that the request's context expands are given
 * the same expansion there, so `q=category==forest` matches as it does on the embedded engine.
 */
import type { EntityQuery, EntitySelector } from '../context-broker';
import type { Logical, QPath, QTerm, QValue } from '../../ngsi-ld/query/q';
import type { ScopeExpr, ScopePattern } from '../../ngsi-ld/query/scope';
import type { TypeExpr } from '../../ngsi-ld/query/type-expr';

export interface QueryRequest {
  body: Record<string, unknown>;
  /** the inline @context the body carries (also what the answer is compacted with), if any */
  context?: Record<string, string>;
  /** nothing narrows the query: the broker needs local=true to accept it */
  unfiltered: boolean;
}

const Q_SPECIAL = /[[\]=!<>~;|(),"'\s]/;
const SCHEME_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

export function buildQueryRequest(query: EntityQuery): QueryRequest {
  const aliases = new Map<string, string>();
  const context: Record<string, string> = {};
  /** an IRI as it may appear at this place of a q path, aliased when the grammar would misread it */
  const pathName = (term: string, last: boolean): string => {
    const iri = query.expand(term);
    const readable = !Q_SPECIAL.test(iri) && (!iri.includes('.') || (last && SCHEME_AUTHORITY.test(iri)));
    if (readable) return iri;
    let alias = aliases.get(iri);
    if (!alias) {
      alias = `smartland-q${aliases.size}`;
      aliases.set(iri, alias);
      context[alias] = iri;
    }
    return alias;
  };
  const vocab = (s: string): void => {
    const iri = query.expand(s);
    if (iri !== s && !s.includes(':') && context[s] === undefined) context[s] = iri;
  };

  const body: Record<string, unknown> = { type: 'Query' };
  const entities = query.selectors.flatMap(selectorBodies);
  if (entities.length) body.entities = entities;
  if (query.attrs) body.attrs = query.attrs;
  if (query.q) body.q = logicalText(query.q, (t) => termText(t, pathName, vocab));
  if (query.scopeQ) body.scopeQ = logicalText(query.scopeQ as ScopeExpr, scopeText);
  if (query.geo) {
    const g = query.geo;
    const distances = [
      ...(g.maxDistance !== undefined ? [`maxDistance==${g.maxDistance}`] : []),
      ...(g.minDistance !== undefined ? [`minDistance==${g.minDistance}`] : []),
    ];
    body.geoQ = {
      geometry: g.geometry.type,
      coordinates: g.geometry.coordinates,
      georel: [g.georel, ...distances].join(';'),
      geoproperty: g.geoproperty,
    };
  }
  const hasContext = Object.keys(context).length > 0;
  if (hasContext) body['@context'] = context;
  const unfiltered = !entities.length && !query.attrs && !query.q && !query.scopeQ && !query.geo;
  return { body, context: hasContext ? context : undefined, unfiltered };
}

/** One spec EntitySelector per id (the spec's selector has a single id; OR over ids is the same set). */
function selectorBodies(s: EntitySelector): Record<string, string>[] {
  const base: Record<string, string> = {};
  if (s.types) base.type = typeText(s.types);
  if (s.idPattern !== undefined) base.idPattern = s.idPattern;
  return s.ids?.length ? s.ids.map((id) => ({ id, ...base })) : [base];
}

const typeText = (t: TypeExpr): string =>
  t.anyOf.map((all) => (all.length > 1 ? `(${all.join(';')})` : all[0])).join('|');

function logicalText<T>(e: Logical<T>, term: (t: T) => string): string {
  const node = e as { kind?: string; operands?: Logical<T>[] };
  if (node.kind === 'and' || node.kind === 'or') {
    return node.operands!.map((o) => {
      const k = (o as { kind?: string }).kind;
      return k === 'and' || k === 'or' ? `(${logicalText(o, term)})` : logicalText(o, term);
    }).join(node.kind === 'and' ? ';' : '|');
  }
  return term(e as T);
}

function termText(t: QTerm, name: (term: string, last: boolean) => string, vocab: (s: string) => void): string {
  const path = pathText(t.path, name);
  if (t.kind === 'exists') return (t.negated ? '!' : '') + path;
  if (t.kind === 'pattern') return `${path}${t.negated ? '!~=' : '~='}${quoted((t.caseInsensitive ? '(?i)' : '') + t.regex)}`;
  const value = (v: QValue): string => {
    if (v.type === 'string') vocab(v.value);
    return valueText(v);
  };
  const o = t.operand;
  const operand = o.kind === 'value' ? value(o.value)
    : o.kind === 'range' ? `${value(o.from)}..${value(o.to)}`
      : o.values.map(value).join(',');
  return `${path}${t.op}${operand}`;
}

function pathText(p: QPath, name: (term: string, last: boolean) => string): string {
  const names = [p.attribute, ...p.subAttributes];
  const last = names.length - 1;
  const text = names.map((n, i) => name(n, i === last && !p.metadata)).join('.');
  return text + (p.metadata ? '.' + p.metadata : '') + p.keys.map((k) => `[${k}]`).join('');
}

const NUMBER_LIKE = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const DATE_LIKE = /^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}/;

function valueText(v: QValue): string {
  if (v.type === 'number' || v.type === 'boolean') return String(v.value);
  if (v.type !== 'string') return v.value;
  // unquoted when it reads back as the same string (URIs stay bare, as brokers expect them)
  const bare = v.value !== '' && !/[;|(),"\s]/.test(v.value) && !v.value.includes('..') && !/^[=!<>~']/.test(v.value) &&
    !NUMBER_LIKE.test(v.value) && !DATE_LIKE.test(v.value) && v.value !== 'true' && v.value !== 'false';
  return bare ? v.value : quoted(v.value);
}

const quoted = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function scopeText(p: ScopePattern): string {
  if (p.levels.length === 0) return '/#';
  return '/' + p.levels.join('/') + (p.descendants ? '/#' : '');
}

