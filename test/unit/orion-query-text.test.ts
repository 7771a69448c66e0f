import { buildQueryRequest } from '../../src/broker/orion-ld/query-text';
import { CircuitBreaker } from '../../src/broker/orion-ld/outbox-delivery';
import type { EntityQuery } from '../../src/broker/context-broker';
import { parseQ, type Logical, type QTerm } from '../../src/ngsi-ld/query/q';
import { parseScopeQ } from '../../src/ngsi-ld/query/scope';
import { parseTypeExpr } from '../../src/ngsi-ld/query/type-expr';
import { parseGeoQuery } from '../../src/ngsi-ld/query/geo';

/** The request's context, as a function: a few Smart Data Models terms, the rest under a default vocabulary. */
const TERMS: Record<string, string> = {
  temperature: 'https://smartdatamodels.org/dataModel.Weather/temperature',
  refDevice: 'https://smartdatamodels.org/dataModel.Device/refDevice',
  accuracy: 'https://smartdatamodels.org/accuracy',
  category: 'https://smartdatamodels.org/category',
  forest: 'https://smartdatamodels.org/dataModel.Environment/forest',
  WeatherObserved: 'https://smartdatamodels.org/dataModel.Weather/WeatherObserved',
  location: 'https://uri.etsi.org/ngsi-ld/location',
  name: 'urn:example:name.v2',
};
const expand = (t: string): string => TERMS[t] ?? (t.includes(':') ? t : `https://uri.etsi.org/ngsi-ld/default-context/${t}`);

const query = (q: Partial<EntityQuery>): EntityQuery => ({ selectors: [], limit: 20, offset: 0, count: false, expand, ...q });

/** q with every name replaced by the IRI it stands for: what the two sides must agree on. */
function resolved(expr: Logical<QTerm>, iri: (name: string) => string): unknown {
  const node = expr as { kind: string; operands?: Logical<QTerm>[] };
  if (node.kind === 'and' || node.kind === 'or') return { kind: node.kind, operands: node.operands!.map((o) => resolved(o, iri)) };
  const t = expr as QTerm;
  return { ...t, path: { ...t.path, attribute: iri(t.path.attribute), subAttributes: t.path.subAttributes.map(iri) } };
}

describe('q for an external broker', () => {
  test.each([
    'temperature>20',
    'temperature.observedAt>=2026-11-22T05:00:00Z;temperature<320',
    'temperature.accuracy.unitCode=="CEL"|!refDevice',
    '(temperature==1..5|temperature==7,8,9);refDevice==urn:ngsi-ld:Device:wx-1',
    'name~="(?i)^chiesa.*"',
    'name!~=a\\d+b',
    'category=="say \\"hi\\"",forest',
    'temperature[a][b]==true;((refDevice))',
    'https://example.org/x.y==1',
  ])('%s means the same on the broker, with the context it is sent with', (text) => {
    const original = parseQ(text);
    const { body, context } = buildQueryRequest(query({ q: original }));
    const sent = parseQ(body.q as string);
    const brokerIri = (n: string): string => context?.[n] ?? (n.includes(':') ? n : expand(n));
    expect(resolved(sent, brokerIri)).toEqual(resolved(original, expand));
  });

  test('IRIs that the q grammar would misread get aliases; others go as they are', () => {
    const { body, context } = buildQueryRequest(query({ q: parseQ('temperature.observedAt>1;refDevice==urn:x;name==2;category==forest') }));
    expect(body.q).toBe('smartland-q0.observedAt>1;https://smartdatamodels.org/dataModel.Device/refDevice==urn:x;smartland-q1==2;https://smartdatamodels.org/category==forest');
    expect(context).toEqual({
      'smartland-q0': TERMS.temperature,
      'smartland-q1': TERMS.name,
      // a vocabulary value the request's context expands keeps that expansion
      forest: TERMS.forest,
    });
    expect(body['@context']).toEqual(context);
  });

  test('selectors, attrs, scopeQ and geoQ; local=true only for an unfiltered query', () => {
    const r = buildQueryRequest(query({
      selectors: [{ types: parseTypeExpr('(WeatherObserved;Device)|Building', expand), ids: ['urn:a', 'urn:b'], idPattern: '^urn' }],
      attrs: [TERMS.temperature],
      scopeQ: parseScopeQ('/Valmalenco/#;/+/Water|/Lanzada'),
      geo: parseGeoQuery({ georel: 'near;maxDistance==2000', geometry: 'Point', coordinates: '[9.85,46.26]' }, expand),
    }));
    const types = `(${TERMS.WeatherObserved};https://uri.etsi.org/ngsi-ld/default-context/Device)|https://uri.etsi.org/ngsi-ld/default-context/Building`;
    expect(r.body).toEqual({
      type: 'Query',
      entities: [{ id: 'urn:a', type: types, idPattern: '^urn' }, { id: 'urn:b', type: types, idPattern: '^urn' }],
      attrs: [TERMS.temperature],
      scopeQ: '(/Valmalenco/#;/+/Water)|/Lanzada',
      geoQ: { geometry: 'Point', coordinates: [9.85, 46.26], georel: 'near;maxDistance==2000', geoproperty: TERMS.location },
    });
    expect(r.unfiltered).toBe(false);
    expect(parseScopeQ(r.body.scopeQ as string)).toEqual(parseScopeQ('/Valmalenco/#;/+/Water|/Lanzada'));
    expect(buildQueryRequest(query({})).unfiltered).toBe(true);
  });
});

describe('the outbox circuit breaker', () => {
  test('opens after consecutive failures, probes after the cooldown, closes on success', async () => {
    const breaker = new CircuitBreaker(2, 40);
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.waitMs).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(breaker.state).toBe('half-open');
    expect(breaker.waitMs).toBe(0);
    // a failed probe opens it again, for longer
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.waitMs).toBeGreaterThan(40);
    await new Promise((r) => setTimeout(r, 90));
    expect(breaker.state).toBe('half-open');
    breaker.success();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('closed');
  });
});
