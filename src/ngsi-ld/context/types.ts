/** A JSON-LD @context value as it appears in a Link header or a body. */
export type ContextValue = string | Record<string, unknown> | (string | Record<string, unknown>)[];

/**
 * A compiled @context: user contexts with the NGSI-LD core context applied last (core terms win).
 * Compiled once per distinct context and cached; expanding/compacting a term is a map lookup.
 */
export interface TermMap {
  /** term, compact IRI (prefix:suffix) or absolute IRI → absolute IRI (via terms, prefixes, @vocab) */
  expand(term: string): string;
  /** absolute IRI → the term the context defines for it, else a compact IRI, else the IRI itself */
  compact(iri: string): string;
  /** the @context to echo in responses (a Link header if it is a single URL, else the body's @context) */
  readonly context: ContextValue;
  /** stable identity for caches (URL or content hash) */
  readonly key: string;
}
