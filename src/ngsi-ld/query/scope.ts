/**
 * Scope queries (ETSI GS CIM 009 clause 4.19): `scopeQ=/Madrid/Gardens/#;/+/Water|/Lanzada`.
 *
 * A scope is a path of levels, `/Madrid/Gardens/ParqueNorte`. In a query, `/#` at the end means
 * the scope and everything below it, `+` stands for exactly one level, `;` is AND, `|` is OR
 * (AND binds tighter), parentheses group. An entity matches a scope pattern when any of its
 * scopes does; an entity without scopes matches none.
 */
import type { SqlParams } from '../../store/sql';
import { parseLogical, startCursor, type Cursor, type Logical } from './q';

export const MAX_SCOPEQ_LENGTH = 4096;

export type ScopeExpr = Logical<ScopePattern>;

export interface ScopePattern {
  kind: 'scope';
  /** level names; '+' is a one-level wildcard. Empty with `descendants` for `/#` (any scope). */
  levels: string[];
  /** `/#` suffix: the scope itself and every scope below it */
  descendants: boolean;
}

export function parseScopeQ(s: string): ScopeExpr {
  return parseLogical(startCursor(s, 'scopeQ', MAX_SCOPEQ_LENGTH), parseScopePattern);
}

/** Characters a level name may not contain: the path separator, wildcards and query syntax. */
const LEVEL_END = /[/#+;|()\s]/;

function parseScopePattern(c: Cursor): ScopePattern {
  c.skipSpaces();
  const levels: string[] = [];
  if (c.peek() !== '/') c.fail("a scope starting with '/'");
  while (c.eat('/')) {
    if (c.eat('#')) return { kind: 'scope', levels, descendants: true };
    if (c.eat('+')) {
      levels.push('+');
    } else {
      const start = c.pos;
      while (!c.atEnd && !LEVEL_END.test(c.peek())) c.pos++;
      if (c.pos === start) c.fail("a scope level name, '+' or '#'");
      levels.push(c.input.slice(start, c.pos));
    }
    if (!c.atEnd && !/[/;|)\s]/.test(c.peek())) {
      c.fail("'/', ';', '|', ')' or the end ('#' and '+' are whole levels)");
    }
  }
  return { kind: 'scope', levels, descendants: false };
}

export interface ScopeSqlContext {
  params: SqlParams;
  /** the text[] column (nullable) holding an entity's scopes */
  scopesColumn: string;
}

export function scopeQToSql(expr: ScopeExpr, ctx: ScopeSqlContext): string {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return `(${expr.operands.map((o) => scopeQToSql(o, ctx)).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'scope':
      if (!expr.descendants && !expr.levels.includes('+')) {
        return `${ctx.params.add('/' + expr.levels.join('/'))} = ANY(${ctx.scopesColumn})`;
      }
      return `EXISTS (SELECT 1 FROM unnest(${ctx.scopesColumn}) AS s(scope) WHERE s.scope ~ ${ctx.params.add(scopeRegex(expr))})`;
  }
}

/** An anchored PostgreSQL regex for a pattern with wildcards: `/+/Gardens/#` → `^/[^/]+/Gardens(/.*)?$`. */
function scopeRegex(p: ScopePattern): string {
  const levels = p.levels.map((l) => (l === '+' ? '/[^/]+' : '/' + l.replace(/[\\^$.|?*+()[\]{}-]/g, '\\$&'))).join('');
  return `^${levels}${p.descendants ? '(/.*)?' : ''}$`;
}
