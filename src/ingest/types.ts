import type { Entity } from '../ngsi-ld/types';
import type { ContextBroker } from '../broker/context-broker';
import type { ContextResolver } from '../ngsi-ld/context/resolver';
import type { ToNormalizedOptions } from '../domain/keyvalues-to-normalized';

/** What the contractor-ingestion use cases need from the service. */
export interface IngestDeps {
  /** the broker, or (Orion-LD mode) the ingestion outbox that delivers to it later */
  broker: Pick<ContextBroker, 'batchUpsert'>;
  contexts: ContextResolver;
  /** why the caller may not write each of these entities (by id), checked up front by atomic requests */
  writeRefusals?: (tenant: string, entities: Entity[]) => Promise<Map<string, string>>;
  /** where store failures are logged */
  log?: { error: (obj: unknown, msg: string) => void };
}

export interface IngestIssue {
  /** JSON pointer into the item (or `/` for the whole item); for CSV, the column's member */
  pointer: string;
  reason: string;
}

export interface IngestItemResult {
  /** position in the submitted batch (0-based; for CSV the data row, for NDJSON the non-blank line) */
  index: number;
  /** CSV/NDJSON: the 1-based line of the body the item starts on */
  line?: number;
  id?: string;
  status: 'accepted' | 'rejected';
  errors?: IngestIssue[];
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  items: IngestItemResult[];
  /** the store failed to write some valid items (reported rejected "not written"): retrying may succeed */
  retryable?: boolean;
}

export interface IngestOptions {
  /** all or nothing: with any rejected item, nothing is written */
  atomic: boolean;
  /** items per upsert transaction (default INGEST_CHUNK_SIZE = 1000); atomic requests may not exceed it */
  chunkSize?: number;
  /** refuse (400) more items than this */
  maxItems?: number;
  /** source line of each item (NDJSON, CSV), copied into the results */
  lines?: (number | undefined)[];
  /** per-item mapping options (observedAt, unit codes), e.g. from a device registration */
  normalize?: (index: number) => ToNormalizedOptions | undefined;
  /** upsert mode: 'update' (default: members sent replace theirs, others stay) or 'replace' (the whole entity) */
  mode?: 'update' | 'replace';
}
