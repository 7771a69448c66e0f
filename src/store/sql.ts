/** Collects positional parameters while SQL text is built, so no user value is ever spliced into SQL. */
export class SqlParams {
  readonly values: unknown[] = [];
  constructor(start: unknown[] = []) {
    this.values.push(...start);
  }
  /** Adds a value and returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Quotes a string as a jsonpath string literal (JSON string syntax is valid jsonpath). */
export const jsonpathString = (s: string): string => JSON.stringify(s);
