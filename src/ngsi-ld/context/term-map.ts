import { badRequestData } from '../errors';
import type { ContextValue, TermMap } from './types';

/**
 * JSON-LD 1.1 context processing, reduced to what NGSI-LD needs: turning attribute names and
 * entity types into IRIs and back. It follows jsonld.js (the reference the tests compare with)
 * step by step for term definitions, IRI expansion and IRI compaction, and deliberately leaves
 * out what only matters for full document processing (@base, scoped contexts, languages).
 */

/** A processed term definition (the parts expansion, compaction and value coercion need). */
export interface TermDefinition {
  /** absolute IRI or keyword; null for a term explicitly mapped to null (not expanded) */
  readonly id: string | null;
  /** '@id' | '@vocab' | '@json' | '@none' | an absolute datatype IRI */
  readonly type?: string;
  /** container mapping, sorted (e.g. ['@list'], ['@set']) */
  readonly container?: readonly string[];
  readonly reverse: boolean;
  /** may be used as the prefix of a compact IRI (prefix:suffix) */
  readonly prefix: boolean;
  readonly protected: boolean;
  /** everything that makes two definitions "the same" for @protected checks */
  readonly signature: string;
}

/** A TermMap that also exposes the definition of a term, for value coercion (@type, @container). */
export interface CompiledTermMap extends TermMap {
  definition(term: string): TermDefinition | undefined;
}

// Same regexes as jsonld.js, so that edge cases (e.g. "a,b:c") agree with the reference.
const ABSOLUTE_IRI = /^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$/;
const KEYWORD_FORM = /^@[a-zA-Z]+$/;
const GEN_DELIM_END = /[:/?#[\]@]$/;
const IRI_FORM = /(?::[^:])|\//;

const KEYWORDS = new Set([
  '@base', '@container', '@context', '@default', '@direction', '@embed', '@explicit', '@graph',
  '@id', '@included', '@index', '@json', '@language', '@list', '@nest', '@none', '@omitDefault',
  '@prefix', '@preserve', '@protected', '@requireAll', '@reverse', '@set', '@type', '@value',
  '@version', '@vocab',
]);
const TERM_KEYS = new Set([
  '@container', '@id', '@language', '@reverse', '@type', '@context', '@direction', '@index', '@nest',
  '@prefix', '@protected',
]);
const CONTAINERS = new Set(['@list', '@set', '@index', '@language', '@graph', '@id', '@type']);
/** context members handled before the terms (or ignored): never term definitions */
const CONTEXT_KEYWORDS = new Set(['@version', '@base', '@vocab', '@language', '@direction', '@propagate', '@import', '@protected']);

export const isAbsoluteIri = (s: string): boolean => ABSOLUTE_IRI.test(s);

// Unbounded memo tables would let a client grow memory with random names; past this size a table
// is cleared (re-filling costs one slow-path lookup per name).
const MEMO_LIMIT = 20_000;

interface ActiveContext {
  terms: Map<string, TermDefinition>;
  vocab?: string;
}

type LocalContext = Record<string, unknown>;

/** per-local-context state: false = being defined (cycle detection), true = done */
type Defined = Map<string, boolean>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (detail: string) => badRequestData(`Invalid @context: ${detail}`);

/**
 * Compiles resolved local contexts (user contexts in order; `null` resets the active context)
 * followed by the NGSI-LD core context, which is applied last so that its terms win.
 * Throws BadRequestData for invalid term definitions.
 */
export function compileTermMap(documents: unknown[], core: unknown, context: ContextValue, key: string): CompiledTermMap {
  let active: ActiveContext = { terms: new Map() };
  for (const doc of documents) {
    if (doc === null) {
      if ([...active.terms.values()].some((d) => d.protected)) {
        throw invalid('a null context cannot clear protected terms');
      }
      active = { terms: new Map() };
      continue;
    }
    processLocalContext(active, doc, false);
  }
  // The core is @protected; applying it with override on makes "core terms win" hold even over a
  // user context that protected one of its own terms with the same name.
  processLocalContext(active, core, true);
  return new FastTermMap(active, context, key);
}

function processLocalContext(active: ActiveContext, local: unknown, overrideProtected: boolean): void {
  if (!isPlainObject(local)) throw invalid('a context must be an object, a URL or an array of them');
  const defined: Defined = new Map();
  if ('@version' in local && local['@version'] !== 1.1) throw invalid('@version must be 1.1');
  if ('@import' in local) throw invalid('@import must be resolved before compiling');
  if ('@vocab' in local) {
    const vocab = local['@vocab'];
    if (vocab === null) delete active.vocab;
    else if (typeof vocab !== 'string') throw invalid('@vocab must be a string or null');
    // relative to the previous @vocab (JSON-LD 1.1), terms of this context not yet applied
    else active.vocab = expandIri(active, vocab, undefined, undefined) ?? vocab;
  }
  if ('@protected' in local && typeof local['@protected'] !== 'boolean') throw invalid('@protected must be a boolean');
  for (const k of CONTEXT_KEYWORDS) if (k in local) defined.set(k, true);
  defined.set('@protected', local['@protected'] === true);
  for (const term of Object.keys(local)) defineTerm(active, local, term, defined, overrideProtected);
}

/** JSON-LD 1.1 "Create Term Definition" (as jsonld.js implements it). */
function defineTerm(
  active: ActiveContext,
  local: LocalContext,
  term: string,
  defined: Defined,
  overrideProtected: boolean,
): void {
  const state = defined.get(term);
  if (state === true) return;
  if (state === false) throw invalid(`cyclic IRI mapping for term '${term}'`);
  defined.set(term, false);
  let value = local[term];

  if (term === '@type' && isPlainObject(value)) {
    // JSON-LD 1.1 lets a context mark @type as a @set container; irrelevant for term lookup.
    defined.set(term, true);
    return;
  }
  if (KEYWORDS.has(term)) throw invalid(`keyword '${term}' cannot be redefined`);
  if (KEYWORD_FORM.test(term)) {
    defined.set(term, true); // reserved for future keywords: ignored, like jsonld.js does
    return;
  }
  if (term === '') throw invalid('a term cannot be an empty string');

  const previous = active.terms.get(term);
  active.terms.delete(term);
  const simpleTerm = typeof value === 'string' || value === null;
  if (simpleTerm) value = { '@id': value };
  if (!isPlainObject(value)) throw invalid(`the definition of '${term}' must be a string, an object or null`);
  for (const k of Object.keys(value)) {
    if (!TERM_KEYS.has(k)) throw invalid(`the definition of '${term}' must not contain ${k}`);
  }

  const colon = term.indexOf(':');
  const hasColon = colon > 0;
  let id: string | null | undefined;
  let reverse = false;
  let prefix = false;

  if ('@reverse' in value) {
    const rev = value['@reverse'];
    if ('@id' in value || '@nest' in value) throw invalid(`reverse term '${term}' must not have @id or @nest`);
    if (typeof rev !== 'string') throw invalid(`@reverse of '${term}' must be a string`);
    if (KEYWORD_FORM.test(rev)) return restore(active, term, previous, defined);
    id = expandIri(active, rev, local, defined) ?? undefined;
    if (id === undefined || !isAbsoluteIri(id)) throw invalid(`@reverse of '${term}' must expand to an absolute IRI`);
    reverse = true;
  } else if ('@id' in value) {
    const rawId = value['@id'];
    if (rawId !== null && typeof rawId !== 'string') throw invalid(`@id of '${term}' must be a string or null`);
    if (rawId === null) {
      id = null;
    } else if (!KEYWORDS.has(rawId) && KEYWORD_FORM.test(rawId)) {
      return restore(active, term, previous, defined);
    } else if (rawId !== term) {
      const expanded = expandIri(active, rawId, local, defined);
      if (expanded === null || (!isAbsoluteIri(expanded) && !KEYWORDS.has(expanded))) {
        throw invalid(`@id of '${term}' must expand to an absolute IRI or a keyword`);
      }
      if (IRI_FORM.test(term)) {
        // a term that looks like an IRI must not contradict its own expansion
        const termDefined: Defined = new Map(defined).set(term, true);
        if (expandIri(active, term, local, termDefined) !== expanded) {
          throw invalid(`term '${term}' has the form of an IRI but maps to a different IRI`);
        }
      }
      id = expanded;
      prefix = simpleTerm && !hasColon && GEN_DELIM_END.test(expanded);
    }
  }

  if (id === undefined) {
    if (hasColon) {
      const prefixTerm = term.slice(0, colon);
      if (Object.prototype.hasOwnProperty.call(local, prefixTerm)) {
        defineTerm(active, local, prefixTerm, defined, overrideProtected);
      }
      const parent = active.terms.get(prefixTerm);
      id = parent && parent.id !== null ? parent.id + term.slice(colon + 1) : term;
    } else if (active.vocab !== undefined) {
      id = active.vocab + term;
    } else {
      throw invalid(`term '${term}' must define an @id (there is no @vocab)`);
    }
  }

  let isProtected =
    value['@protected'] === true || (defined.get('@protected') === true && value['@protected'] !== false);
  defined.set(term, true);

  let type: string | undefined;
  if ('@type' in value) {
    const rawType = value['@type'];
    if (typeof rawType !== 'string') throw invalid(`@type of '${term}' must be a string`);
    if (rawType === '@id' || rawType === '@vocab' || rawType === '@json' || rawType === '@none') {
      type = rawType;
    } else {
      const expanded = expandIri(active, rawType, local, defined);
      if (expanded === null || !isAbsoluteIri(expanded) || expanded.startsWith('_:')) {
        throw invalid(`@type of '${term}' must expand to an absolute IRI`);
      }
      type = expanded;
    }
  }

  let container: string[] | undefined;
  if ('@container' in value) {
    const raw = value['@container'];
    container = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? (raw as unknown[]).map(String) : [];
    if (!isValidContainer(container)) throw invalid(`@container of '${term}' is not valid`);
    if (container.includes('@type')) {
      type ??= '@id';
      if (type !== '@id' && type !== '@vocab') throw invalid(`'${term}': @container @type needs @type @id or @vocab`);
    }
    if (reverse && !container.every((c) => c === '@index' || c === '@set')) {
      throw invalid(`reverse term '${term}' may only have an @index or @set container`);
    }
    container = [...container].sort();
  }
  if ('@index' in value) {
    const index = value['@index'];
    if (!container?.includes('@index') || typeof index !== 'string' || index.startsWith('@')) {
      throw invalid(`@index of '${term}' needs an @index container and must not be a keyword`);
    }
  }
  if ('@language' in value && value['@language'] !== null && typeof value['@language'] !== 'string') {
    throw invalid(`@language of '${term}' must be a string or null`);
  }
  if ('@prefix' in value) {
    if (/[:/]/.test(term)) throw invalid(`@prefix is not allowed on compact IRI term '${term}'`);
    if (id !== null && KEYWORDS.has(id)) throw invalid(`keyword alias '${term}' cannot be a prefix`);
    if (typeof value['@prefix'] !== 'boolean') throw invalid(`@prefix of '${term}' must be a boolean`);
    prefix = value['@prefix'];
  }
  if ('@direction' in value && ![null, 'ltr', 'rtl'].includes(value['@direction'] as string | null)) {
    throw invalid(`@direction of '${term}' must be null, "ltr" or "rtl"`);
  }
  if ('@nest' in value) {
    const nest = value['@nest'];
    if (typeof nest !== 'string' || (nest !== '@nest' && nest.startsWith('@'))) throw invalid(`@nest of '${term}' is not valid`);
  }
  if (id === '@context' || id === '@preserve') throw invalid(`'${term}' cannot alias ${id}`);

  const signature = JSON.stringify([
    id, type ?? null, container ?? null, reverse, prefix, hasColon,
    value['@context'] ?? null, value['@language'] ?? null, value['@direction'] ?? null,
    value['@index'] ?? null, value['@nest'] ?? null,
  ]);
  if (previous?.protected && !overrideProtected) {
    if (previous.signature !== signature) throw invalid(`protected term '${term}' cannot be redefined`);
    isProtected = true;
  }
  // a scoped @context only counts for the protection check (signature); term expansion ignores it
  active.terms.set(term, { id, type, container, reverse, prefix, protected: isProtected, signature });
}

/** A definition dropped as reserved (@-form) leaves the previous one in place (as jsonld.js does). */
function restore(active: ActiveContext, term: string, previous: TermDefinition | undefined, defined: Defined): void {
  if (previous) active.terms.set(term, previous);
  defined.set(term, true);
}

function isValidContainer(c: string[]): boolean {
  if (c.length === 0 || !c.every((x) => CONTAINERS.has(x))) return false;
  if (c.includes('@list')) return c.length === 1;
  if (c.includes('@graph')) return c.every((x) => x === '@graph' || x === '@id' || x === '@index' || x === '@set');
  return c.length <= (c.includes('@set') ? 2 : 1);
}

/**
 * IRI expansion with vocab=true (property names and types). With `local`, terms of the local
 * context being processed are defined on demand (their order in the object does not matter).
 * Returns null for a term explicitly mapped to null or a non-keyword in keyword form.
 */
function expandIri(active: ActiveContext, value: string, local: LocalContext | undefined, defined: Defined | undefined): string | null {
  if (KEYWORDS.has(value)) return value;
  if (KEYWORD_FORM.test(value)) return null;
  if (local && defined && Object.prototype.hasOwnProperty.call(local, value) && defined.get(value) !== true) {
    defineTerm(active, local, value, defined, false);
  }
  const def = active.terms.get(value);
  if (def) return def.id;
  const colon = value.indexOf(':');
  if (colon > 0) {
    const prefix = value.slice(0, colon);
    const suffix = value.slice(colon + 1);
    if (prefix === '_' || suffix.startsWith('//')) return value;
    if (local && defined && Object.prototype.hasOwnProperty.call(local, prefix)) {
      defineTerm(active, local, prefix, defined, false);
    }
    const prefixDef = active.terms.get(prefix);
    if (prefixDef?.prefix && prefixDef.id !== null) return prefixDef.id + suffix;
    if (isAbsoluteIri(value)) return value;
  }
  return active.vocab !== undefined ? active.vocab + value : value;
}

const shortestLeast = (a: string, b: string): number =>
  a.length - b.length || (a === b ? 0 : a < b ? -1 : 1);

/**
 * The compiled, immutable result. Expansion and compaction are answered from memo tables; the
 * slow paths run once per distinct name.
 */
class FastTermMap implements CompiledTermMap {
  private readonly terms: ReadonlyMap<string, TermDefinition>;
  private readonly vocab: string | undefined;
  /** IRI → the term jsonld.js would choose for a node-object value or a @type value */
  private readonly inverse = new Map<string, string>();
  /** terms usable as compact IRI prefixes, with their IRIs */
  private readonly prefixes: { term: string; iri: string }[] = [];
  private readonly expanded = new Map<string, string>();
  private readonly compacted = new Map<string, string>();

  constructor(private readonly active: ActiveContext, readonly context: ContextValue, readonly key: string) {
    this.terms = active.terms;
    this.vocab = active.vocab;
    this.buildInverse();
  }

  definition(term: string): TermDefinition | undefined {
    return this.terms.get(term);
  }

  expand(term: string): string {
    let iri = this.expanded.get(term);
    if (iri === undefined) {
      // null-mapped and @-form names stay as given: not IRIs, so callers can tell them apart
      iri = expandIri(this.active, term, undefined, undefined) ?? term;
      if (this.expanded.size >= MEMO_LIMIT) this.expanded.clear();
      this.expanded.set(term, iri);
    }
    return iri;
  }

  compact(iri: string): string {
    let term = this.compacted.get(iri);
    if (term === undefined) {
      term = this.compactSlow(iri);
      if (this.compacted.size >= MEMO_LIMIT) this.compacted.clear();
      this.compacted.set(iri, term);
    }
    return term;
  }

  /**
   * jsonld.js IRI compaction (vocab=true): a term, else the @vocab-relative name (when it is not a
   * term itself), else the shortest (then least) usable compact IRI, else the IRI.
   */
  private compactSlow(iri: string): string {
    const term = this.inverse.get(iri);
    if (term !== undefined) return term;
    if (this.vocab !== undefined && iri.startsWith(this.vocab) && iri !== this.vocab) {
      const suffix = iri.slice(this.vocab.length);
      if (!this.terms.has(suffix)) return suffix;
    }
    let choice: string | undefined;
    for (const p of this.prefixes) {
      if (iri.length <= p.iri.length || !iri.startsWith(p.iri)) continue;
      const curie = p.term + ':' + iri.slice(p.iri.length);
      const clash = this.terms.get(curie);
      if (clash !== undefined && clash.id !== iri) continue;
      if (choice === undefined || shortestLeast(curie, choice) < 0) choice = curie;
    }
    return choice ?? iri;
  }

  /**
   * Term selection as jsonld.js does it for the values NGSI-LD compacts (attribute objects and
   * @type values): among the terms for an IRI, container @set before none, then @type @id before
   * no type, then shortest-least. Terms that jsonld.js would only pick for other value shapes
   * (@list, @language, typed literals, @vocab) are a fallback, so an attribute name still
   * compacts to its term — what NGSI-LD brokers do; jsonld.js would print the IRI instead.
   */
  private buildInverse(): void {
    const best = new Map<string, { term: string; rank: number }>();
    const names = [...this.terms.keys()].sort(shortestLeast);
    for (const term of names) {
      const def = this.terms.get(term)!;
      if (def.id === null || def.reverse) continue;
      const rank = selectionRank(def);
      const current = best.get(def.id);
      if (current === undefined || rank < current.rank) best.set(def.id, { term, rank });
      if (def.prefix && !KEYWORDS.has(def.id)) this.prefixes.push({ term, iri: def.id });
    }
    for (const [iri, { term }] of best) this.inverse.set(iri, term);
  }
}

/** lower is preferred; names are visited shortest-least, so ties keep the first */
function selectionRank(def: TermDefinition): number {
  const c = def.container?.join('') ?? '@none';
  const containerRank = c === '@set' ? 0 : c === '@none' ? 1 : -1;
  const typeRank = def.type === '@id' ? 0 : def.type === undefined || def.type === '@none' ? 1 : -1;
  return containerRank < 0 || typeRank < 0 ? 10 : containerRank * 2 + typeRank;
}
