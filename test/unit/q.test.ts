import { NgsiError } from '../../src/ngsi-ld/errors';
import { METADATA_NAMES, parseQ, type QExpr, type QPath, type QValue } from '../../src/ngsi-ld/query/q';
import { parseScopeQ } from '../../src/ngsi-ld/query/scope';

const path = (attribute: string, more: Partial<QPath> = {}): QPath => ({
  attribute,
  subAttributes: [],
  metadata: undefined,
  keys: [],
  ...more,
});
const num = (value: number): QValue => ({ type: 'number', value });
const str = (value: string): QValue => ({ type: 'string', value });
const eq = (attribute: string, value: QValue): QExpr => ({
  kind: 'compare',
  path: path(attribute),
  op: '==',
  operand: { kind: 'value', value },
});
const exists = (attribute: string): QExpr => ({ kind: 'exists', path: path(attribute), negated: false });

/** the 400 detail parseQ throws */
function qError(q: string): string {
  try {
    parseQ(q);
  } catch (err) {
    expect(err).toBeInstanceOf(NgsiError);
    expect((err as NgsiError).problemType).toBe('BadRequestData');
    return (err as NgsiError).detail;
  }
  throw new Error(`parseQ accepted ${q}`);
}

describe('parseQ: logical structure', () => {
  test('a single existence term', () => {
    expect(parseQ('temperature')).toEqual(exists('temperature'));
  });

  test('!attr means "does not exist"', () => {
    expect(parseQ('!temperature')).toEqual({ kind: 'exists', path: path('temperature'), negated: true });
  });

  test('; is AND, | is OR, AND binds tighter', () => {
    expect(parseQ('a|b;c|d')).toEqual({
      kind: 'or',
      operands: [exists('a'), { kind: 'and', operands: [exists('b'), exists('c')] }, exists('d')],
    });
  });

  test('parentheses group', () => {
    expect(parseQ('(a|b);c')).toEqual({
      kind: 'and',
      operands: [{ kind: 'or', operands: [exists('a'), exists('b')] }, exists('c')],
    });
    expect(parseQ('((a))')).toEqual(exists('a'));
  });

  test('spec example: (temperature>=20;temperature<=25)|capacity<=10', () => {
    expect(parseQ('(temperature>=20;temperature<=25)|capacity<=10')).toEqual({
      kind: 'or',
      operands: [
        {
          kind: 'and',
          operands: [
            { kind: 'compare', path: path('temperature'), op: '>=', operand: { kind: 'value', value: num(20) } },
            { kind: 'compare', path: path('temperature'), op: '<=', operand: { kind: 'value', value: num(25) } },
          ],
        },
        { kind: 'compare', path: path('capacity'), op: '<=', operand: { kind: 'value', value: num(10) } },
      ],
    });
  });

  test('whitespace between tokens is tolerated, never inside names', () => {
    expect(parseQ(' ( a == 1 ; b ) | c ')).toEqual(parseQ('(a==1;b)|c'));
    expect(parseQ('a == 1 , 2')).toEqual(parseQ('a==1,2'));
    expect(parseQ('a == 1 .. 2')).toEqual(parseQ('a==1..2'));
    expect(qError('tem perature')).toMatch(/expected an operator .* at position 5/);
  });

  test('nesting is bounded', () => {
    expect(parseQ('('.repeat(32) + 'a' + ')'.repeat(32))).toEqual(exists('a'));
    expect(qError('('.repeat(33) + 'a' + ')'.repeat(33))).toMatch(/nested deeper than 32 levels \(at position 33\)/);
  });

  test('length is bounded', () => {
    expect(parseQ('a' + ';a'.repeat(2047))).toMatchObject({ kind: 'and' });
    expect(qError('a' + ';a'.repeat(2048))).toMatch(/longer than 4096 characters/);
  });
});

describe('parseQ: operators and values', () => {
  test.each([
    ['==', 'a==1'],
    ['!=', 'a!=1'],
    ['>', 'a>1'],
    ['>=', 'a>=1'],
    ['<', 'a<1'],
    ['<=', 'a<=1'],
  ])('%s', (op, q) => {
    expect(parseQ(q)).toEqual({ kind: 'compare', path: path('a'), op, operand: { kind: 'value', value: num(1) } });
  });

  test('~= and !~= take a regex; (?i) makes it case-insensitive', () => {
    expect(parseQ('name~=^Mad.*')).toEqual({
      kind: 'pattern', path: path('name'), negated: false, regex: '^Mad.*', caseInsensitive: false,
    });
    expect(parseQ('name!~=(?i)^mad')).toEqual({
      kind: 'pattern', path: path('name'), negated: true, regex: '^mad', caseInsensitive: true,
    });
  });

  test('numbers: negative, decimal, exponent', () => {
    expect(parseQ('a==-5')).toEqual(eq('a', num(-5)));
    expect(parseQ('a==2.75')).toEqual(eq('a', num(2.75)));
    expect(parseQ('a>=1.5e3')).toMatchObject({ operand: { value: num(1500) } });
    expect(parseQ('a<-2E-2')).toMatchObject({ operand: { value: num(-0.02) } });
    expect(qError('a==1e999')).toMatch(/number 1e999 is out of range/);
  });

  test('booleans', () => {
    expect(parseQ('a==true')).toEqual(eq('a', { type: 'boolean', value: true }));
    expect(parseQ('a!=false')).toMatchObject({ op: '!=', operand: { value: { type: 'boolean', value: false } } });
    expect(qError('a>true')).toMatch(/> compares numbers, strings and date-times, not booleans/);
  });

  test('quoted strings keep ; | ( ) , .. and escaped quotes', () => {
    expect(parseQ('a=="x;y|z(1),2..3"')).toEqual(eq('a', str('x;y|z(1),2..3')));
    expect(parseQ('a=="say \\"hi\\" \\\\ ok"')).toEqual(eq('a', str('say "hi" \\ ok')));
    expect(parseQ('a=="new\\nline"')).toEqual(eq('a', str('new\\nline')));
    expect(parseQ('a==""')).toEqual(eq('a', str('')));
    expect(parseQ('a=="5"')).toEqual(eq('a', str('5')));
  });

  test('unquoted date-times, dates and times', () => {
    expect(parseQ('a.observedAt>=2017-12-24T12:00:00Z')).toEqual({
      kind: 'compare',
      path: path('a', { metadata: 'observedAt' }),
      op: '>=',
      operand: { kind: 'value', value: { type: 'dateTime', value: '2017-12-24T12:00:00Z' } },
    });
    expect(parseQ('a<2017-12-24T12:00:00.123+01:00')).toMatchObject({
      operand: { value: { type: 'dateTime', value: '2017-12-24T12:00:00.123+01:00' } },
    });
    expect(parseQ('a==2017-12-24')).toEqual(eq('a', { type: 'date', value: '2017-12-24' }));
    expect(parseQ('a>12:30:00Z')).toMatchObject({ operand: { value: { type: 'time', value: '12:30:00Z' } } });
  });

  test('unquoted URIs and words are strings', () => {
    expect(parseQ('refPark==urn:ngsi-ld:Park:1')).toEqual(eq('refPark', str('urn:ngsi-ld:Park:1')));
    expect(parseQ('a==https://example.org/x.y?z=1#f')).toEqual(eq('a', str('https://example.org/x.y?z=1#f')));
    expect(parseQ('brandName!=Mercedes')).toMatchObject({ op: '!=', operand: { value: str('Mercedes') } });
  });

  test('ranges (==, !=) of numbers, strings and date-times', () => {
    expect(parseQ('a==1..5')).toMatchObject({ operand: { kind: 'range', from: num(1), to: num(5) } });
    expect(parseQ('a!=-1.5..2.5')).toMatchObject({ op: '!=', operand: { kind: 'range', from: num(-1.5), to: num(2.5) } });
    expect(parseQ('a=="a".."m"')).toMatchObject({ operand: { kind: 'range', from: str('a'), to: str('m') } });
    expect(parseQ('a==2020-01-01T00:00:00Z..2020-12-31T23:59:59.999Z')).toMatchObject({
      operand: {
        kind: 'range',
        from: { type: 'dateTime', value: '2020-01-01T00:00:00Z' },
        to: { type: 'dateTime', value: '2020-12-31T23:59:59.999Z' },
      },
    });
    expect(qError('a>1..5')).toMatch(/a range only works with == and !=, not >/);
    expect(qError('a==1.."5"')).toMatch(/a range needs two numbers or two strings\/date-times, not number and string/);
    expect(qError('a==true..false')).toMatch(/a range needs/);
    expect(qError('a==1..')).toMatch(/expected a value .* at position 7, found the end/);
  });

  test('value lists (==, !=), mixed types', () => {
    expect(parseQ('a==1,2,3')).toMatchObject({ operand: { kind: 'list', values: [num(1), num(2), num(3)] } });
    expect(parseQ('a!="x","y;z",urn:a:b,true')).toMatchObject({
      op: '!=',
      operand: { kind: 'list', values: [str('x'), str('y;z'), str('urn:a:b'), { type: 'boolean', value: true }] },
    });
    expect(qError('a<1,2')).toMatch(/a list of values only works with == and !=, not </);
    expect(qError('a==1,')).toMatch(/expected a value/);
  });
});

describe('parseQ: attribute paths', () => {
  test('sub-attribute, nested sub-attributes, metadata', () => {
    expect(parseQ('a.b==1')).toMatchObject({ path: path('a', { subAttributes: ['b'] }) });
    expect(parseQ('a.b.c==1')).toMatchObject({ path: path('a', { subAttributes: ['b', 'c'] }) });
    for (const m of METADATA_NAMES) {
      expect(parseQ(`a.b.${m}`)).toMatchObject({ path: path('a', { subAttributes: ['b'], metadata: m }) });
    }
    // only as the last step of a path, not as an attribute of its own
    expect(parseQ('observedAt')).toEqual(exists('observedAt'));
  });

  test('compound value members, also after a sub-attribute', () => {
    expect(parseQ('address[city]=="Berlin"')).toMatchObject({ path: path('address', { keys: ['city'] }) });
    expect(parseQ('a[b][c d;e]==1')).toMatchObject({ path: path('a', { keys: ['b', 'c d;e'] }) });
    expect(parseQ('a.sub[k]==1')).toMatchObject({ path: path('a', { subAttributes: ['sub'], keys: ['k'] }) });
    expect(qError('a[]==1')).toMatch(/expected a compound value member name at position 3/);
    expect(qError('a[b==1')).toMatch(/expected '\]'/);
    expect(qError('a.observedAt[x]==1')).toMatch(/metadata 'observedAt' has no members/);
  });

  test('compact IRIs and URNs: ":" belongs to the name, "." separates', () => {
    expect(parseQ('schema:address.schema:city')).toEqual({
      kind: 'exists', path: path('schema:address', { subAttributes: ['schema:city'] }), negated: false,
    });
    expect(parseQ('urn:x:attr==1')).toEqual(eq('urn:x:attr', num(1)));
  });

  test('absolute IRIs keep their dots; they end at [, an operator or a separator', () => {
    expect(parseQ('https://example.org/a.b==1')).toEqual(eq('https://example.org/a.b', num(1)));
    expect(parseQ('http://x.org/ns#temp[k]>2;b')).toMatchObject({
      kind: 'and',
      operands: [{ path: path('http://x.org/ns#temp', { keys: ['k'] }), op: '>' }, exists('b')],
    });
    expect(parseQ('!https://example.org/a.b')).toEqual({
      kind: 'exists', path: path('https://example.org/a.b'), negated: true,
    });
  });
});

describe('parseQ: errors say where and what was expected', () => {
  test.each([
    ['', /q: empty query/],
    ['   ', /q: empty query/],
    ['a=="\0"', /q: contains a NUL character/],
    ['a==', /expected a value .* at position 4, found the end/],
    ['==1', /expected an attribute name at position 1, found '==1'/],
    ['a;', /expected an attribute name at position 3, found the end/],
    ['a|;b', /expected an attribute name at position 3/],
    ['(a', /expected '\)' \(for the '\(' at position 1\) at position 3, found the end/],
    ['a)', /\(this '\)' closes nothing\) at position 2/],
    ['a=1', /expected an operator \(==, !=, >, >=, <, <=, ~=, !~=\), ';', '\|', '\)' or the end at position 2/],
    ['a==1 2', /expected ';', '\|' or the end at position 6, found '2'/],
    ['a=="abc', /expected a closing '"' for the string opened at position 4/],
    ["a=='x'", /strings are quoted with double quotes/],
    ['a.==1', /expected a sub-attribute or metadata name at position 3/],
    ['!a==1', /'!' only negates an existence test/],
    ['a~=', /expected a regular expression at position 4/],
    ['a~=(', /invalid regular expression/],
    ['a~=(?<n>x)', /named groups/],
    ['a~=\\p{L}', /Unicode property escapes/],
  ])('%j', (q, detail) => {
    expect(qError(q)).toMatch(detail);
  });

  test('an overly long regex', () => {
    expect(qError('a~=' + 'x'.repeat(513))).toMatch(/regular expression longer than 512 characters/);
  });
});

describe('parseQ: regexes', () => {
  test('an unquoted regex ends at ; or | outside its groups and classes', () => {
    expect(parseQ('a~=^(x|y);b')).toMatchObject({
      kind: 'and',
      operands: [{ kind: 'pattern', regex: '^(x|y)' }, exists('b')],
    });
    expect(parseQ('a~=[;|]x|b')).toMatchObject({ kind: 'or', operands: [{ regex: '[;|]x' }, exists('b')] });
    expect(parseQ('a~=x\\;y')).toMatchObject({ regex: 'x\\;y' });
    expect(parseQ('(a~=x.*)')).toMatchObject({ kind: 'pattern', regex: 'x.*' });
  });

  test('a quoted regex may contain anything and keeps its escapes', () => {
    expect(parseQ('a~="x|y;\\d+\\"q\\""')).toMatchObject({ regex: 'x|y;\\d+"q"' });
  });
});

describe('parseScopeQ', () => {
  const scope = (levels: string[], descendants = false) => ({ kind: 'scope', levels, descendants });

  test('paths, wildcards and descendants', () => {
    expect(parseScopeQ('/Madrid/Gardens')).toEqual(scope(['Madrid', 'Gardens']));
    expect(parseScopeQ('/Madrid/#')).toEqual(scope(['Madrid'], true));
    expect(parseScopeQ('/+/Gardens')).toEqual(scope(['+', 'Gardens']));
    expect(parseScopeQ('/#')).toEqual(scope([], true));
    expect(parseScopeQ('/Chiesa in Valmalenco'.replace(/ /g, '_'))).toEqual(scope(['Chiesa_in_Valmalenco']));
  });

  test('; binds tighter than |, parentheses group', () => {
    expect(parseScopeQ('/a;/b|/c')).toEqual({
      kind: 'or',
      operands: [{ kind: 'and', operands: [scope(['a']), scope(['b'])] }, scope(['c'])],
    });
    expect(parseScopeQ('/a;(/b|/c/#)')).toEqual({
      kind: 'and',
      operands: [scope(['a']), { kind: 'or', operands: [scope(['b']), scope(['c'], true)] }],
    });
  });

  test.each([
    ['', /scopeQ: empty query/],
    ['Madrid', /expected a scope starting with '\/' at position 1/],
    ['/Madrid/', /expected a scope level name, '\+' or '#' at position 9/],
    ['//a', /expected a scope level name/],
    ['/a#', /expected '\/', ';', '\|', '\)' or the end .* at position 3/],
    ['/a/+b', /at position 5/],
    ['/a/#/b', /expected ';', '\|' or the end at position 5/],
    ['(/a', /expected '\)'/],
  ])('%j is rejected', (s, detail) => {
    expect(() => parseScopeQ(s)).toThrow(detail);
  });

  test('length is bounded', () => {
    expect(() => parseScopeQ('/a'.repeat(2049))).toThrow(/scopeQ: longer than 4096 characters/);
  });
});
