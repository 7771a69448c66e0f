/**
 * The dashboard's view of the NGSI-LD API: plain fetches of keyValues entities and temporal
 * values. No @context is sent, so attribute and type names come back as full IRIs (or core
 * terms): the page names things by their last path segment (`short`), whatever model defined them.
 */

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export type KeyValues = { id: string; type: string | string[]; [attribute: string]: unknown };

/** `https://smartdatamodels.org/dataModel.Weather/temperature` → `temperature` */
export const short = (iri: string): string => iri.slice(Math.max(iri.lastIndexOf('/'), iri.lastIndexOf('#')) + 1);

/** The member of a keyValues entity whose name ends in `name`. */
export function member(e: KeyValues, name: string): unknown {
  for (const key of Object.keys(e)) if (short(key) === name) return e[key];
  return undefined;
}

export const typeOf = (e: KeyValues): string => short(Array.isArray(e.type) ? e.type[0] : e.type);

export class Api {
  constructor(private readonly tenant: string, private readonly apiKey: () => string | null) {}

  private async get<T>(path: string, accept = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { Accept: accept };
    if (this.tenant) headers['NGSILD-Tenant'] = this.tenant;
    const key = this.apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    const res = await fetch(`/ngsi-ld/v1${path}`, { headers });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { detail?: string };
      throw new ApiError(res.status, body.detail ?? res.statusText);
    }
    return (await res.json()) as T;
  }

  /** The full IRIs of the tenant's entity types, by short name. */
  async types(): Promise<Map<string, string>> {
    const list = await this.get<{ typeList: string[] }>('/types');
    return new Map(list.typeList.map((iri) => [short(iri), iri]));
  }

  /** Every entity of these types (IRIs), keyValues, up to 1000. */
  entities(types: string[]): Promise<KeyValues[]> {
    if (types.length === 0) return Promise.resolve([]);
    const type = encodeURIComponent(types.join(','));
    return this.get<KeyValues[]>(`/entities?type=${type}&options=keyValues&limit=1000`);
  }

  /** The last instances of an entity's attributes as [value, time] pairs (temporalValues). */
  history(id: string, lastN: number): Promise<Record<string, unknown>> {
    return this.get<Record<string, unknown>>(`/temporal/entities/${encodeURIComponent(id)}?options=temporalValues&lastN=${lastN}`);
  }
}
