import { badRequestData } from '../errors';
import type { SqlParams } from '../../store/sql';

/**
 * Entity type selection (spec 4.17): `A,B` and `A|B` mean any of, `A;B` means all of,
 * parentheses group, and AND binds tighter than OR. Parsed into OR-of-AND form, because
 * that is what SQL over a text[] column wants: `types && {…}` / `types @> {…}`.
 */
export type TypeExpr = { anyOf: string[][] }; // each inner list: all of these types

const MAX_LENGTH = 2048;
const NAME = /^[^\s,;|()<>"'=]+$/;

export function parseTypeExpr(input: string, expand: (t: string) => string): TypeExpr {
  if (input.length === 0) throw badRequestData('type: empty type selection');
  if (input.length > MAX_LENGTH) throw badRequestData(`type: selection longer than ${MAX_LENGTH} characters`);
  let pos = 0;
  const fail = (what: string): never => {
    throw badRequestData(`type: ${what} at position ${pos} in '${input}'`);
  };
  // or := and ((',' | '|') and)* ; and := atom (';' atom)* ; atom := NAME | '(' or ')'
  const parseOr = (depth: number): string[][] => {
    let result = parseAnd(depth);
    while (input[pos] === ',' || input[pos] === '|') {
      pos++;
      result = result.concat(parseAnd(depth));
    }
    return result;
  };
  const parseAnd = (depth: number): string[][] => {
    let result = parseAtom(depth);
    while (input[pos] === ';') {
      pos++;
      const right = parseAtom(depth);
      // distribute: (a|b);(c|d) = a;c | a;d | b;c | b;d
      result = result.flatMap((l) => right.map((r) => [...new Set([...l, ...r])]));
      if (result.length > 256) fail('type selection expands to too many alternatives');
    }
    return result;
  };
  const parseAtom = (depth: number): string[][] => {
    if (depth > 16) fail('too deeply nested');
    if (input[pos] === '(') {
      pos++;
      const inner = parseOr(depth + 1);
      if (input[pos] !== ')') fail("expected ')'");
      pos++;
      return inner;
    }
    const start = pos;
    while (pos < input.length && !',|;()'.includes(input[pos])) pos++;
    const name = input.slice(start, pos);
    if (!name) fail('expected a type name');
    if (!NAME.test(name)) fail(`invalid type name '${name}'`);
    return [[expand(name)]];
  };
  const anyOf = parseOr(0);
  if (pos !== input.length) fail(`unexpected '${input[pos]}'`);
  return { anyOf };
}

export function typeExprToSql(expr: TypeExpr, params: SqlParams, typesColumn: string): string {
  const singles = expr.anyOf.filter((all) => all.length === 1).map((all) => all[0]);
  const parts: string[] = [];
  if (singles.length) parts.push(`${typesColumn} && ${params.add(singles)}::text[]`);
  for (const all of expr.anyOf.filter((a) => a.length > 1)) parts.push(`${typesColumn} @> ${params.add(all)}::text[]`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}
