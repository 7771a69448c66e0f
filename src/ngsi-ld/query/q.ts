/**
 * The NGSI-LD Query Language (ETSI GS CIM 009 clause 4.9): `q=temperature>20;(refPark==urn:…|name=="x")`.
 * This file parses the text into an AST; q-sql.ts translates the AST into SQL.
 *
 * Grammar (a superset of the spec's ABNF, with the choices the spec leaves open):
 *
 *   query      := or
 *   or         := and ('|' and)*          — AND binds tighter than OR
 *   and        := group (';' group)*
 *   group      := '(' or ')' | term       — at most 32 levels of parentheses
 *   term       := '!' path                — the target does not exist
 *               | path                    — the target exists
 *               | path ('=='|'!=') (value | value '..' value | value (',' value)+)
 *               | path ('>'|'>='|'<'|'<=') value
 *               | path ('~='|'!~=') regex
 *   path       := name ('.' name)* ('[' key ']')*
 *   value      := number | true | false | "quoted \"string\"" | date-time | date | time | unquoted
 *
 * Attribute names: a name is a compact term, a `prefix:suffix` compact IRI or a URN and ends at
 * '.', '[', an operator, ';', '|', ')' or whitespace. A name that starts like an absolute IRI with
 * an authority (`scheme://`) may contain '.', so it ends only at '[', an operator, ';', '|', ')'
 * or whitespace — such a name cannot be followed by `.sub`. The last dotted name is metadata
 * (not a sub-attribute) when it is one of observedAt, unitCode, datasetId, createdAt, modifiedAt.
 *
 * Values: unquoted tokens end at ';', '|', ',', '(', ')', '"', whitespace or '..' (so a URI that
 * contains '..' must be quoted). Unquoted tokens that are not numbers, booleans or ISO 8601
 * date-times/dates/times are strings (URIs such as `urn:ngsi-ld:Park:1`, or plain words); one that
 * starts with an operator character (=, !, <, >, ~) is refused as a mistyped operator (`a===1`).
 * In quoted strings `\"` is a quote and `\\` a backslash; any other backslash is kept as is, so
 * quoted regexes keep their escapes.
 *
 * Regexes: `~=` takes a quoted string, or an unquoted regex that runs to the first ';' or '|'
 * outside its own parentheses and brackets (quote a regex with a top-level '|' alternation).
 * A leading `(?i)` makes the match case-insensitive (as in Orion-LD).
 *
 * Whitespace between tokens is tolerated (the spec allows none); it never is part of a name.
 */
import { badRequestData } from '../errors';

export const MAX_Q_LENGTH = 4096;
export const MAX_NESTING = 32;
export const MAX_REGEX_LENGTH = 512;

// ---------------------------------------------------------------------------------------------
// AST

/** `;`/`|` combinations of terms, shared by q and scopeQ. */
export type Logical<T> = T | { kind: 'and'; operands: Logical<T>[] } | { kind: 'or'; operands: Logical<T>[] };

export type QExpr = Logical<QTerm>;
export type QTerm = QExistence | QComparison | QPattern;

export const METADATA_NAMES = ['observedAt', 'unitCode', 'datasetId', 'createdAt', 'modifiedAt'] as const;
export type MetadataName = (typeof METADATA_NAMES)[number];

/** What a term looks at: `attribute.sub1.sub2[key1][key2]` or `attribute.sub.observedAt`. Names are not expanded. */
export interface QPath {
  attribute: string;
  subAttributes: string[];
  /** set when the path ends in a metadata name instead of a (sub-)attribute */
  metadata?: MetadataName;
  /** members of a compound value (not expanded) */
  keys: string[];
}

export interface QExistence {
  kind: 'exists';
  path: QPath;
  /** `!attr`: the target does not exist */
  negated: boolean;
}

export type ComparisonOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface QComparison {
  kind: 'compare';
  path: QPath;
  op: ComparisonOp;
  operand: QOperand;
}

/** Ranges and lists only come with `==` and `!=`. */
export type QOperand =
  | { kind: 'value'; value: QValue }
  | { kind: 'range'; from: QValue; to: QValue }
  | { kind: 'list'; values: QValue[] };

export type QValue =
  | { type: 'number'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'string' | 'dateTime' | 'date' | 'time'; value: string };

export interface QPattern {
  kind: 'pattern';
  path: QPath;
  /** `!~=` */
  negated: boolean;
  /** without the `(?i)` prefix */
  regex: string;
  caseInsensitive: boolean;
}

// ---------------------------------------------------------------------------------------------
// Cursor and the logical layer (shared with scopeQ)

/** A position in the text being parsed; every failure names the position and what was expected. */
export class Cursor {
  pos = 0;
  constructor(
    readonly input: string,
    /** the query parameter, for error details */
    readonly parameter: string,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.input.length;
  }
  peek(): string {
    return this.input[this.pos] ?? '';
  }
  lookingAt(s: string): boolean {
    return this.input.startsWith(s, this.pos);
  }
  /** consumes `s` if it comes next (no whitespace skipped) */
  eat(s: string): boolean {
    if (!this.lookingAt(s)) return false;
    this.pos += s.length;
    return true;
  }
  skipSpaces(): void {
    while (/\s/.test(this.peek())) this.pos++;
  }
  /** throws 400 "expected <what> at position N" (1-based), quoting what was found there */
  fail(expected: string, at = this.pos): never {
    const found = at >= this.input.length ? 'the end' : `'${this.input.slice(at, at + 20)}'`;
    throw badRequestData(`${this.parameter}: expected ${expected} at position ${at + 1}, found ${found}`);
  }
  /** throws 400 about something that was read fine but is not allowed */
  reject(problem: string, at = this.pos): never {
    throw badRequestData(`${this.parameter}: ${problem} (at position ${at + 1})`);
  }
}

/** Checks the bounds of a query text and returns a cursor at its first non-blank character. */
export function startCursor(input: string, parameter: string, maxLength: number): Cursor {
  if (input.length > maxLength) throw badRequestData(`${parameter}: longer than ${maxLength} characters`);
  // PostgreSQL text and jsonpath cannot hold NUL: refuse it here rather than fail in SQL
  if (input.includes('\0')) throw badRequestData(`${parameter}: contains a NUL character`);
  const c = new Cursor(input, parameter);
  c.skipSpaces();
  if (c.atEnd) throw badRequestData(`${parameter}: empty query`);
  return c;
}

/** Parses the whole input as terms joined by ';' (AND, binds tighter) and '|' (OR), with parentheses. */
export function parseLogical<T>(c: Cursor, parseTerm: (c: Cursor) => T): Logical<T> {
  const expr = parseOr(c, parseTerm, 0);
  c.skipSpaces();
  if (!c.atEnd) c.fail(c.peek() === ')' ? "';', '|' or the end (this ')' closes nothing)" : "';', '|' or the end");
  return expr;
}

function parseOr<T>(c: Cursor, parseTerm: (c: Cursor) => T, depth: number): Logical<T> {
  const operands = [parseAnd(c, parseTerm, depth)];
  while (skipThenEat(c, '|')) operands.push(parseAnd(c, parseTerm, depth));
  return operands.length === 1 ? operands[0] : { kind: 'or', operands };
}

function parseAnd<T>(c: Cursor, parseTerm: (c: Cursor) => T, depth: number): Logical<T> {
  const operands = [parseGroup(c, parseTerm, depth)];
  while (skipThenEat(c, ';')) operands.push(parseGroup(c, parseTerm, depth));
  return operands.length === 1 ? operands[0] : { kind: 'and', operands };
}

function parseGroup<T>(c: Cursor, parseTerm: (c: Cursor) => T, depth: number): Logical<T> {
  c.skipSpaces();
  const open = c.pos;
  if (!c.eat('(')) return parseTerm(c);
  if (depth >= MAX_NESTING) c.reject(`parentheses nested deeper than ${MAX_NESTING} levels`, open);
  const inner = parseOr(c, parseTerm, depth + 1);
  if (!skipThenEat(c, ')')) c.fail(`')' (for the '(' at position ${open + 1})`);
  return inner;
}

function skipThenEat(c: Cursor, s: string): boolean {
  c.skipSpaces();
  return c.eat(s);
}

// ---------------------------------------------------------------------------------------------
// q terms

export function parseQ(q: string): QExpr {
  return parseLogical(startCursor(q, 'q', MAX_Q_LENGTH), parseTerm);
}

const OPERATORS = ['==', '!=', '!~=', '~=', '>=', '<=', '>', '<'] as const;

function parseTerm(c: Cursor): QTerm {
  c.skipSpaces();
  const start = c.pos;
  const negated = c.eat('!');
  if (negated) c.skipSpaces();
  const path = parsePath(c);
  c.skipSpaces();
  const op = OPERATORS.find((o) => c.eat(o));
  if (!op) {
    if (!c.atEnd && !';|)'.includes(c.peek())) {
      c.fail("an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|', ')' or the end");
    }
    return { kind: 'exists', path, negated };
  }
  if (negated) c.reject("'!' only negates an existence test such as '!attr'; use != or !~= to negate a comparison", start);
  c.skipSpaces();
  if (op === '~=' || op === '!~=') return { kind: 'pattern', path, negated: op === '!~=', ...parseRegex(c) };
  return { kind: 'compare', path, op, operand: parseOperand(c, op) };
}

const ABSOLUTE_IRI_START = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** characters that end a name; an absolute IRI may contain '.' */
const NAME_END = /[.[\]=!<>~;|(),"'\s]/;
const IRI_END = /[[\]=!<>~;|(),"'\s]/;

function parsePath(c: Cursor): QPath {
  const names = [readName(c, 'an attribute name')];
  while (c.eat('.')) names.push(readName(c, 'a sub-attribute or metadata name'));
  const keysAt = c.pos;
  const keys: string[] = [];
  while (c.eat('[')) {
    const start = c.pos;
    while (!c.atEnd && !'[]'.includes(c.peek())) c.pos++;
    if (c.pos === start) c.fail('a compound value member name');
    keys.push(c.input.slice(start, c.pos));
    if (!c.eat(']')) c.fail("']'");
  }
  const last = names[names.length - 1];
  const metadata = names.length > 1 ? METADATA_NAMES.find((m) => m === last) : undefined;
  if (metadata && keys.length) c.reject(`metadata '${metadata}' has no members to select with [...]`, keysAt);
  return { attribute: names[0], subAttributes: names.slice(1, metadata ? -1 : undefined), metadata, keys };
}

function readName(c: Cursor, what: string): string {
  const start = c.pos;
  const end = ABSOLUTE_IRI_START.test(c.input.slice(start, start + 64)) ? IRI_END : NAME_END;
  while (!c.atEnd && !end.test(c.peek())) c.pos++;
  if (c.pos === start) c.fail(what);
  return c.input.slice(start, c.pos);
}

function parseOperand(c: Cursor, op: ComparisonOp): QOperand {
  const first = parseValue(c);
  c.skipSpaces();
  const equality = op === '==' || op === '!=';
  if (c.lookingAt('..')) {
    const dots = c.pos;
    c.pos += 2;
    c.skipSpaces();
    if (!equality) c.reject(`a range only works with == and !=, not ${op}`, dots);
    const to = parseValue(c);
    if (family(first) === 'boolean' || family(first) !== family(to)) {
      c.reject(`a range needs two numbers or two strings/date-times, not ${first.type} and ${to.type}`, dots);
    }
    return { kind: 'range', from: first, to };
  }
  if (c.peek() === ',') {
    if (!equality) c.reject(`a list of values only works with == and !=, not ${op}`);
    const values = [first];
    while (skipThenEat(c, ',')) {
      c.skipSpaces();
      values.push(parseValue(c));
    }
    return { kind: 'list', values };
  }
  if (!equality && first.type === 'boolean') c.reject(`${op} compares numbers, strings and date-times, not booleans`);
  return { kind: 'value', value: first };
}

/** Strings, date-times, dates and times compare as strings; numbers as numbers. */
const family = (v: QValue): 'number' | 'boolean' | 'string' =>
  v.type === 'number' || v.type === 'boolean' ? v.type : 'string';

const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const ZONE = '(Z|[+-]\\d{2}(:?\\d{2})?)?';
const DATE_TIME = new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?${ZONE}$`);
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = new RegExp(`^\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?${ZONE}$`);
const UNQUOTED_END = /[;|(),"\s]/;

function parseValue(c: Cursor): QValue {
  if (c.peek() === '"') return { type: 'string', value: readQuoted(c) };
  if (c.peek() === "'") c.fail('a value (strings are quoted with double quotes)');
  const start = c.pos;
  while (!c.atEnd && !UNQUOTED_END.test(c.peek()) && !c.lookingAt('..')) c.pos++;
  const token = c.input.slice(start, c.pos);
  if (!token) c.fail('a value (number, "string", true, false, date-time or URI)');
  // `a===1`, `a>=<1`: an operator character cannot start an unquoted value (quote it if meant)
  if (/^[=!<>~]/.test(token)) c.fail('a value (number, "string", true, false, date-time or URI), not an operator', start);
  if (token === 'true' || token === 'false') return { type: 'boolean', value: token === 'true' };
  if (NUMBER.test(token)) {
    const value = Number(token);
    if (!Number.isFinite(value)) c.reject(`number ${token} is out of range`, start);
    return { type: 'number', value };
  }
  if (DATE_TIME.test(token)) return { type: 'dateTime', value: token };
  if (DATE.test(token)) return { type: 'date', value: token };
  if (TIME.test(token)) return { type: 'time', value: token };
  return { type: 'string', value: token };
}

/** Reads `"…"`: `\"` is a quote, `\\` a backslash, other backslashes stay. */
function readQuoted(c: Cursor): string {
  const open = c.pos++;
  let text = '';
  while (!c.atEnd) {
    const ch = c.input[c.pos++];
    if (ch === '"') return text;
    if (ch === '\\' && (c.peek() === '"' || c.peek() === '\\')) text += c.input[c.pos++];
    else text += ch;
  }
  return c.fail(`a closing '"' for the string opened at position ${open + 1}`);
}

// ---------------------------------------------------------------------------------------------
// regexes

function parseRegex(c: Cursor): { regex: string; caseInsensitive: boolean } {
  const start = c.pos;
  const raw = c.peek() === '"' ? readQuoted(c) : readUnquotedRegex(c);
  const caseInsensitive = raw.startsWith('(?i)');
  const regex = caseInsensitive ? raw.slice(4) : raw;
  if (!regex) c.fail('a regular expression', start);
  if (regex.length > MAX_REGEX_LENGTH) c.reject(`regular expression longer than ${MAX_REGEX_LENGTH} characters`, start);
  try {
    new RegExp(regex);
  } catch (err) {
    c.reject(`invalid regular expression: ${(err as Error).message}`, start);
  }
  const unsupported = UNSUPPORTED_REGEX.find(([re]) => re.test(regex));
  if (unsupported) c.reject(`regular expression uses ${unsupported[1]}, which the store's regex engine lacks`, start);
  return { regex, caseInsensitive };
}

/** JavaScript regex features that PostgreSQL's ARE engine (which evaluates the match) does not have. */
const UNSUPPORTED_REGEX: [RegExp, string][] = [
  [/\(\?<(?![=!])/, 'named groups'],
  [/\\k</, 'named backreferences'],
  [/\\[pP]\{/, 'Unicode property escapes'],
  [/\\u\{/, 'code point escapes'],
];

/** An unquoted regex runs to the first ';' or '|' (or unmatched ')') outside its own groups and classes. */
function readUnquotedRegex(c: Cursor): string {
  const start = c.pos;
  let depth = 0;
  let inClass = false;
  while (!c.atEnd) {
    const ch = c.peek();
    if (ch === '\\') {
      c.pos = Math.min(c.pos + 2, c.input.length);
      continue;
    }
    if (inClass) inClass = ch !== ']';
    else if (ch === '[') inClass = true;
    else if (ch === '(') depth++;
    else if (ch === ')') {
      if (depth === 0) break;
      depth--;
    } else if ((ch === ';' || ch === '|') && depth === 0) break;
    c.pos++;
  }
  return c.input.slice(start, c.pos).trimEnd();
}
