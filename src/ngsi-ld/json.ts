/** A JSON object (not null, not an array): the shape every NGSI-LD and ingestion body is checked for first. */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
