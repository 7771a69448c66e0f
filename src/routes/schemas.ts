/**
 * JSON Schemas for the NGSI-LD routes' params, query strings and fixed-shape responses.
 * Entity bodies are free-form by nature: their deep validation is ngsi-ld/entity/parse.
 */

/** Problem details (also the broker's, passed through in Orion-LD mode). */
export const problem = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
  required: ['type', 'title'],
} as const;

const errorResponses = { '4xx': problem, '5xx': problem } as const;

export const noContentResponses = { 201: { type: 'null' }, 204: { type: 'null' }, ...errorResponses } as const;

export const updateResultResponses = {
  204: { type: 'null' },
  207: {
    type: 'object',
    properties: {
      updated: { type: 'array', items: { type: 'string' } },
      notUpdated: {
        type: 'array',
        items: { type: 'object', properties: { attributeName: { type: 'string' }, reason: { type: 'string' } } },
      },
    },
  },
  ...errorResponses,
} as const;

export const batchResultResponses = {
  200: {
    type: 'object',
    properties: {
      success: { type: 'array', items: { type: 'string' } },
      errors: { type: 'array', items: { type: 'object', properties: { entityId: { type: 'string' }, error: problem } } },
    },
  },
  201: { type: 'array', items: { type: 'string' } },
  204: { type: 'null' },
  207: {
    type: 'object',
    properties: {
      success: { type: 'array', items: { type: 'string' } },
      errors: { type: 'array', items: { type: 'object', properties: { entityId: { type: 'string' }, error: problem } } },
    },
  },
  ...errorResponses,
} as const;

export const objectBody = { type: 'object' } as const;
export const arrayBody = { type: 'array' } as const;

const idParam = { type: 'string', minLength: 1, maxLength: 1024 } as const;
export const entityParams = { type: 'object', properties: { entityId: idParam }, required: ['entityId'] } as const;
export const attrParams = {
  type: 'object',
  properties: { entityId: idParam, attrId: { type: 'string', minLength: 1, maxLength: 1024 } },
  required: ['entityId', 'attrId'],
} as const;

const text = { type: 'string', maxLength: 8192 } as const;

export const entityQuery = {
  type: 'object',
  properties: {
    id: text,
    idPattern: { type: 'string', maxLength: 1024 },
    type: text,
    attrs: text,
    pick: text,
    omit: text,
    q: text,
    scopeQ: text,
    georel: { type: 'string', maxLength: 256 },
    geometry: { type: 'string', maxLength: 64 },
    coordinates: { type: 'string', maxLength: 262144 },
    geoproperty: { type: 'string', maxLength: 1024 },
    geometryProperty: { type: 'string', maxLength: 1024 },
    lang: { type: 'string', maxLength: 64 },
    // bounded so that the numbers fit PostgreSQL's bigint LIMIT/OFFSET (and stay exact in JS)
    limit: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    count: { type: 'boolean' },
    options: { type: 'string', maxLength: 256 },
    format: { type: 'string', maxLength: 32 },
    local: { type: 'boolean' },
  },
} as const;

export const optionsQuery = { type: 'object', properties: { options: { type: 'string', maxLength: 256 } } } as const;

export const deleteAttrQuery = {
  type: 'object',
  properties: { datasetId: { type: 'string', maxLength: 1024 }, deleteAll: { type: 'boolean' } },
} as const;

export const typeParams = { type: 'object', properties: { type: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['type'] } as const;
export const attrNameParams = { type: 'object', properties: { attrId: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['attrId'] } as const;
export const detailsQuery = { type: 'object', properties: { details: { type: 'boolean' } } } as const;

const selector = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 1024 }, idPattern: { type: 'string', maxLength: 1024 }, type: { type: 'string', maxLength: 2048 } },
  additionalProperties: false,
} as const;
const names = { type: 'array', items: { type: 'string', maxLength: 1024 }, maxItems: 100 } as const;

/** POST /entityOperations/query body (spec Query data type). */
export const queryBody = {
  type: 'object',
  properties: {
    type: { const: 'Query' },
    entities: { type: 'array', items: selector, minItems: 1, maxItems: 100 },
    attrs: names,
    pick: { anyOf: [names, { type: 'string', maxLength: 8192 }] },
    omit: { anyOf: [names, { type: 'string', maxLength: 8192 }] },
    q: { type: 'string', maxLength: 8192 },
    scopeQ: { type: 'string', maxLength: 8192 },
    lang: { type: 'string', maxLength: 64 },
    geoQ: {
      type: 'object',
      properties: {
        geometry: { type: 'string', maxLength: 64 },
        coordinates: { anyOf: [{ type: 'array' }, { type: 'string', maxLength: 262144 }] },
        georel: { type: 'string', maxLength: 256 },
        geoproperty: { type: 'string', maxLength: 1024 },
      },
      additionalProperties: false,
    },
    '@context': {},
  },
  required: ['type'],
} as const;

// --- temporal API (spec 5.6.11-5.6.16, 5.7.3, 5.7.4) -------------------------------------------------

const temporalQ = {
  timerel: { type: 'string', maxLength: 16 },
  timeAt: { type: 'string', maxLength: 64 },
  endTimeAt: { type: 'string', maxLength: 64 },
  timeproperty: { type: 'string', maxLength: 32 },
} as const;

const temporalOnly = {
  ...temporalQ,
  lastN: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  aggrMethods: { type: 'string', maxLength: 256 },
  aggrPeriodDuration: { type: 'string', maxLength: 64 },
  datasetId: { type: 'string', maxLength: 8192 },
} as const;

export const temporalQuery = { type: 'object', properties: { ...entityQuery.properties, ...temporalOnly } } as const;

/** POST /temporal/entityOperations/query: the Query body with temporalQ (required, spec 5.2.23). */
export const temporalQueryBody = {
  type: 'object',
  properties: { ...queryBody.properties, temporalQ: { type: 'object', properties: temporalQ, additionalProperties: false } },
  required: ['type', 'temporalQ'],
} as const;

export const instanceParams = {
  type: 'object',
  properties: { ...attrParams.properties, instanceId: { type: 'string', minLength: 1, maxLength: 1024 } },
  required: ['entityId', 'attrId', 'instanceId'],
} as const;

/** A temporal query answer: entities of free form (attributes are named by the client's context). */
export const temporalEntitiesResponses = {
  200: { type: 'array', items: { type: 'object', additionalProperties: true } },
  206: { type: 'array', items: { type: 'object', additionalProperties: true } },
  ...errorResponses,
} as const;

export const temporalEntityResponses = {
  200: { type: 'object', additionalProperties: true },
  206: { type: 'object', additionalProperties: true },
  ...errorResponses,
} as const;
