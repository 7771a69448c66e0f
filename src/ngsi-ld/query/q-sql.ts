/**
 * Translates a parsed NGSI-LD query (q.ts) into a boolean SQL expression over the `attrs` jsonb
 * column (`{ "<attribute IRI>": [instance, …] }`, see types.ts).
 *
 * Each term becomes one jsonpath, passed as ONE parameter: `attrs @? $n::jsonpath`. User values
 * only ever appear inside that jsonpath as JSON-quoted literals, never in the SQL text.
 *
 * The jsonpath selects the attribute's instances (and sub-attribute), then filters them with one
 * alternative per attribute kind, each guarded by `@.type == "<kind>"`:
 *   $."https://…/temperature"[*] ? ((@.type == "Property" && @.value[*] > 20) || …)
 * The guard keeps kinds apart (a Relationship's object is never compared with `>`), and it is
 * what lets the GIN jsonb_path_ops index serve every term: an equality with a constant is an
 * index key, and so is the type guard, so even `>`, ranges and regexes are narrowed by the index
 * to the entities that have the attribute.
 *
 * Value semantics (spec 4.9): Property → value (or the @value of a JSON-LD value object such as
 * {"@type": "DateTime", "@value": …}), Relationship → object, LanguageProperty → any
 * languageMap string, VocabProperty → vocab (compared with the literal and its expansion),
 * JsonProperty → json, ListProperty → valueList items, ListRelationship → objectList objects;
 * an array matches when any of its elements does. Relationships and VocabProperties only take
 * part in == and != with strings (spec: other operators do not match them). Numbers compare as
 * numbers, strings (and unquoted date-times, compared as ISO 8601 text) as strings: 5 never
 * matches "5". `!=` and `!~=` mean: the target exists and no value of it matches.
 *
 * The temporal history (src/temporal/history-store.ts) applies the same filters to one stored
 * attribute instance at a time (QSqlContext.someInstance): the jsonpath then starts at the instance.
 */
import { jsonpathString, type SqlParams } from '../../store/sql';
import { ATTRIBUTE_KINDS, type AttributeKind } from '../types';
import type { QComparison, QExpr, QPath, QPattern, QTerm, QValue } from './q';

/** Where the terms are tested: the attributes of entity rows, or instances one at a time. */
export type QSqlContext = {
  /** expands attribute names and VocabProperty literals with the request's @context */
  expand: (term: string) => string;
  params: SqlParams;
} & (
  | {
      /** the jsonb column (possibly qualified) holding the expanded attributes */
      attrsColumn: string;
      someInstance?: undefined;
    }
  | {
      attrsColumn?: undefined;
      /**
       * Tests each term on attribute instances one at a time (the temporal history): given a term
       * and its test on one instance (a jsonb expression), returns the SQL saying that some
       * instance of the term's attribute passes the test. `!attr` is the negation of that.
       */
      someInstance: (term: QTerm, test: (instance: string) => string) => string;
    }
);

export function qToSql(expr: QExpr, ctx: QSqlContext): string {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return `(${expr.operands.map((o) => qToSql(o, ctx)).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'exists': {
      const exists = onTarget(expr, ctx, (target) => matches(target, existencePath(expr.path, ctx), ctx));
      return expr.negated ? `(NOT ${exists})` : exists;
    }
    case 'compare':
    case 'pattern': {
      const negated = expr.kind === 'pattern' ? expr.negated : expr.op === '!=';
      return onTarget(expr, ctx, (target) => {
        const positive = matches(target, matchPath(expr, ctx), ctx, usesIndex(expr));
        return negated ? `(${matches(target, existencePath(expr.path, ctx), ctx)} AND NOT ${positive})` : positive;
      });
    }
  }
}

/** A term's test on the attributes column, or on the instances of its attribute (someInstance). */
const onTarget = (term: QTerm, ctx: QSqlContext, test: (target: string) => string): string =>
  ctx.someInstance ? ctx.someInstance(term, test) : test(ctx.attrsColumn);

/**
 * `@?` lets the planner use the GIN (jsonb_path_ops) index; jsonb_path_exists does not. The index
 * only narrows equality: for ranges and patterns it matches every row that has the attribute, yet
 * the planner's fixed estimate for `@?` still picks it (measured at 100k rows: q+geo 18–27 ms with
 * the bitmap, 10 ms without), so those are evaluated as a filter on rows other conditions found.
 */
const matches = (target: string, jsonpath: string, ctx: QSqlContext, indexable = true): string =>
  indexable
    ? `${target} @? ${ctx.params.add(jsonpath)}::jsonpath`
    : `jsonb_path_exists(${target}, ${ctx.params.add(jsonpath)}::jsonpath)`;

const usesIndex = (term: QComparison | QPattern): boolean =>
  term.kind === 'compare' && (term.op === '==' || term.op === '!=') && term.operand.kind !== 'range';

const isKind = (kind: AttributeKind): string => `@.type == ${jsonpathString(kind)}`;
const ANY_KIND = `(${ATTRIBUTE_KINDS.map(isKind).join(' || ')})`;
const anyOf = (conditions: string[]): string =>
  conditions.length === 1 ? conditions[0] : conditions.map((c) => `(${c})`).join(' || ');

/**
 * `$."attr"[*]."sub"…`: every instance of the attribute, then the named sub-attribute of each; on
 * one instance (someInstance) `$."sub"…`.
 */
function instancesPath(path: QPath, ctx: QSqlContext): string {
  const subs = path.subAttributes.map((s) => '.' + jsonpathString(ctx.expand(s))).join('');
  return ctx.someInstance ? `$${subs}` : `$.${jsonpathString(ctx.expand(path.attribute))}[*]${subs}`;
}

/** Where one kind of attribute instance keeps the values a term compares (relative to the instance `@`). */
interface ValueSource {
  kind: AttributeKind;
  /** the member holding the value(s), e.g. `@.value."address"` */
  member: string;
  /** the values themselves, one item each (arrays unwrapped) */
  values: string;
  /** false for identifiers (Relationship objects, vocab IRIs): only == and != with strings apply */
  ordered: boolean;
}

function valueSources(keys: string[]): ValueSource[] {
  const source = (kind: AttributeKind, member: string, ordered = true, values = member + '[*]'): ValueSource =>
    ({ kind, member, values, ordered });
  if (keys.length === 0) {
    return [
      source('Property', '@.value'),
      // a JSON-LD value object ({"@type": "DateTime", "@value": "…"}, clause 4.6.3) compares by its @value
      source('Property', '@.value."@value"'),
      source('LanguageProperty', '@.languageMap', true, '@.languageMap.*[*]'),
      source('JsonProperty', '@.json'),
      source('ListProperty', '@.valueList'),
      source('Relationship', '@.object', false),
      source('ListRelationship', '@.objectList', false, '@.objectList[*].object'),
      source('VocabProperty', '@.vocab', false),
    ];
  }
  // attr[k1][k2]: members of a compound value; attr[lang] also picks one language of a LanguageProperty
  const selector = keys.map((k) => '.' + jsonpathString(k)).join('');
  return [
    source('Property', '@.value' + selector),
    source('GeoProperty', '@.value' + selector),
    source('JsonProperty', '@.json' + selector),
    ...(keys.length === 1 ? [source('LanguageProperty', '@.languageMap' + selector)] : []),
  ];
}

/** Instances where the term's target exists (for `attr`, `!attr`, and the first half of `!=`). */
function existencePath(path: QPath, ctx: QSqlContext): string {
  const instances = instancesPath(path, ctx);
  if (path.metadata) return `${instances} ? (${ANY_KIND} && exists(@.${jsonpathString(path.metadata)}))`;
  if (path.keys.length === 0) return `${instances} ? ${ANY_KIND}`;
  return `${instances} ? (${anyOf(valueSources(path.keys).map((s) => `${isKind(s.kind)} && exists(${s.member})`))})`;
}

/** Instances whose target has a value that satisfies the term, with != and !~= taken positively. */
function matchPath(term: QComparison | QPattern, ctx: QSqlContext): string {
  const instances = instancesPath(term.path, ctx);
  if (term.path.metadata) {
    const metadata = `@.${jsonpathString(term.path.metadata)}`;
    return `${instances} ? (${ANY_KIND} && (${condition(term, metadata, true, ctx.expand)}))`;
  }
  const alternatives = valueSources(term.path.keys).flatMap((s) => {
    const c = condition(term, s.values, s.ordered, ctx.expand, s.kind === 'VocabProperty');
    return c ? [`${isKind(s.kind)} && (${c})`] : [];
  });
  return `${instances} ? (${anyOf(alternatives)})`;
}

/** The jsonpath condition on `values`, or undefined when values of this kind can never satisfy the term. */
function condition(
  term: QComparison | QPattern,
  values: string,
  ordered: boolean,
  expand: (term: string) => string,
  expandStrings = false,
): string | undefined {
  if (term.kind === 'pattern') {
    if (!ordered) return undefined;
    const flag = term.caseInsensitive ? ' flag "i"' : '';
    return `${values} like_regex ${jsonpathString(toPostgresRegex(term.regex))}${flag}`;
  }
  const { operand } = term;
  if (!ordered) {
    if (operand.kind === 'range') return undefined;
    const strings = (operand.kind === 'value' ? [operand.value] : operand.values)
      .filter((v) => v.type !== 'number' && v.type !== 'boolean')
      .map((v) => String(v.value));
    const candidates = expandStrings ? [...new Set(strings.flatMap((s) => [s, expand(s)]))] : strings;
    return candidates.length ? anyOf(candidates.map((s) => `${values} == ${jsonpathString(s)}`)) : undefined;
  }
  switch (operand.kind) {
    case 'value':
      return `${values} ${term.op === '!=' ? '==' : term.op} ${literal(operand.value)}`;
    case 'list':
      return anyOf(operand.values.map((v) => `${values} == ${literal(v)}`));
    case 'range':
      // one element must be within both bounds, hence the nested filter
      return `exists(${values} ? (@ >= ${literal(operand.from)} && @ <= ${literal(operand.to)}))`;
  }
}

const literal = (v: QValue): string =>
  v.type === 'number' || v.type === 'boolean' ? String(v.value) : jsonpathString(v.value);

/**
 * PostgreSQL's ARE regexes read `\b` as a backspace; JavaScript and POSIX-minded clients mean a
 * word boundary, which ARE spells `\y` (`\B` → `\Y`). Inside [...] classes nothing changes.
 */
export function toPostgresRegex(regex: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === '\\' && i + 1 < regex.length) {
      const next = regex[++i];
      out += '\\' + (!inClass && next === 'b' ? 'y' : !inClass && next === 'B' ? 'Y' : next);
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    out += ch;
  }
  return out;
}
