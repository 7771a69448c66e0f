/**
 * Deterministic test data: Valmalenco weather and air-quality stations around Chiesa in
 * Valmalenco. Entity i is the same in every run and in both processes (server side and load
 * client), so ids can be derived without shipping data between them.
 */

export const CHIESA = { lon: 9.8499, lat: 46.2664 };
/** radius of the disc the stations are spread over, metres */
export const AREA_RADIUS_M = 5000;

/** mulberry32: small, fast, seedable PRNG */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const M_PER_DEG_LAT = 111_320;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((CHIESA.lat * Math.PI) / 180);

/** A point uniformly distributed in a disc of `radius` metres around Chiesa in Valmalenco. */
export function pointNearChiesa(rand: () => number, radius = AREA_RADIUS_M): [number, number] {
  const r = radius * Math.sqrt(rand());
  const th = 2 * Math.PI * rand();
  const lon = CHIESA.lon + (r * Math.cos(th)) / M_PER_DEG_LON;
  const lat = CHIESA.lat + (r * Math.sin(th)) / M_PER_DEG_LAT;
  return [round(lon, 6), round(lat, 6)];
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** 7 in 10 stations are WeatherObserved, the rest AirQualityObserved. */
export const entityType = (i: number): 'WeatherObserved' | 'AirQualityObserved' =>
  i % 10 < 7 ? 'WeatherObserved' : 'AirQualityObserved';

export const entityId = (i: number): string =>
  `urn:ngsi-ld:${entityType(i)}:valmalenco-${String(i).padStart(6, '0')}`;

const prop = (value: number, unitCode: string, observedAt: string) => ({ type: 'Property', value, unitCode, observedAt });

/** Entity i in the normalized NGSI-LD form, plain core terms (no @context: core + default @vocab). */
export function makeEntity(i: number, seed = 1): Record<string, unknown> {
  const rand = prng(seed * 1_000_003 + i);
  const type = entityType(i);
  const observedAt = new Date(Date.UTC(2025, 5, 1, 0, 0, 0) + Math.floor(rand() * 86_400) * 1000).toISOString();
  // temperature −5..25 °C, humidity 30..100 %: q "temperature>5;relativeHumidity<80" matches ~48 %
  const temperature = round(-5 + 30 * rand(), 1);
  const relativeHumidity = round(30 + 70 * rand(), 1);
  const base: Record<string, unknown> = {
    id: entityId(i),
    type,
    temperature: prop(temperature, 'CEL', observedAt),
    relativeHumidity: prop(relativeHumidity, 'P1', observedAt),
  };
  if (type === 'WeatherObserved') {
    base.atmosphericPressure = prop(round(880 + 40 * rand(), 1), 'A97', observedAt);
    base.windSpeed = prop(round(12 * rand(), 1), 'MTS', observedAt);
    base.windDirection = prop(Math.floor(360 * rand()), 'DD', observedAt);
    base.precipitation = prop(round(rand() < 0.7 ? 0 : 20 * rand(), 1), 'MMT', observedAt);
  } else {
    base.pm10 = prop(round(60 * rand(), 1), 'GQ', observedAt);
    base.pm25 = prop(round(35 * rand(), 1), 'GQ', observedAt);
    base.no2 = prop(round(80 * rand(), 1), 'GQ', observedAt);
    base.o3 = prop(round(120 * rand(), 1), 'GQ', observedAt);
  }
  base.refDevice = { type: 'Relationship', object: `urn:ngsi-ld:Device:valmalenco-${String(i % 5000).padStart(4, '0')}` };
  base.location = { type: 'GeoProperty', value: { type: 'Point', coordinates: pointNearChiesa(rand) } };
  return base;
}
