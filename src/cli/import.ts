/**
 * `smartland import FILE --type T`: a large contractor file through the same path as the
 * contractor API (ingest/ingest.ts ingestItems: validate → map → write), in chunks of 1000 rows.
 *
 * - NDJSON and CSV are streamed: the file is read in 1 MiB pieces and cut into records (lines;
 *   for CSV, lines outside double quotes, so quoted fields may hold line breaks); each chunk of
 *   records is parsed by the contractor API's own parsers (ingest/formats.ts) and ingested before
 *   the next is read, so memory stays flat whatever the file size.
 * - JSON (an array) is read whole, up to a size cap, parsed, then ingested in chunks.
 * - --atomic: all or nothing for the whole file, so every row goes to ingestItems in one call
 *   (and the file must fit under the same size cap).
 * Progress goes to stderr: a cli-progress bar when stderr is a terminal, a plain line every few
 * seconds otherwise. The summary (accepted / rejected, the first rejection reasons with their line
 * or item numbers) goes to the log function (stdout in the CLI).
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { SingleBar } from 'cli-progress';
import { NgsiError } from '../ngsi-ld/errors';
import { ingestItems } from '../ingest/ingest';
import { parseCsv, parseJsonItems, parseNdjson, UnreadableItem } from '../ingest/formats';
import { assertJsonDepth, assertStorableText } from '../ngsi-ld/http';
import type { IngestDeps, IngestItemResult, IngestResult } from '../ingest/types';

export type ImportFormat = 'json' | 'ndjson' | 'csv';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['json', 'ndjson', 'csv'];

export interface ImportOptions {
  file: string;
  /** entity type of every row (one of SUPPORTED_TYPES) */
  type: string;
  /** NGSILD-Tenant ('' = the default tenant) */
  tenant?: string;
  /** default: from the file name (.json, .ndjson/.jsonl, .csv), else from the first character */
  format?: ImportFormat;
  /** all or nothing for the whole file */
  atomic?: boolean;
  /** rows per ingestItems call (1000) */
  chunkSize?: number;
  /** largest file read whole (JSON, --atomic): 256 MiB */
  maxWholeFileBytes?: number;
  /** 'bar' (cli-progress), 'lines' (a line every progressIntervalMs) or 'none'; default: bar on a TTY, else lines */
  progress?: 'bar' | 'lines' | 'none';
  /** where progress goes (process.stderr) */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  progressIntervalMs?: number;
  /** where the summary lines go (default: nowhere) */
  log?: (line: string) => void;
  /** rejections kept with their reasons (20) */
  maxReasons?: number;
}

export interface ImportRejection {
  /** NDJSON/CSV: the line of the file the row starts on (1-based; a CSV header is line 1); JSON: the item number (1-based) */
  row: number;
  id?: string;
  reasons: string[];
}

export interface ImportSummary {
  file: string;
  type: string;
  tenant: string;
  format: ImportFormat;
  atomic: boolean;
  rows: number;
  accepted: number;
  rejected: number;
  /** --atomic: valid rows not written because other rows were rejected (counted in `rejected`) */
  notWritten: number;
  /** the first maxReasons rejected rows, in file order */
  rejections: ImportRejection[];
  seconds: number;
  rowsPerSec: number;
}

/** A problem with the command line or the file itself (exit code 2), as opposed to rejected rows. */
export class ImportUsageError extends Error {}

/** The store failed to write a chunk: the import stops; the summary so far is attached. */
export class ImportStoreError extends Error {
  summary?: ImportSummary;
}

/** A valid row rejected only because an atomic import had rejected rows. */
const isCollateral = (it: IngestItemResult): boolean =>
  it.errors?.length === 1 && it.errors[0].reason.startsWith('valid, but not written');

const MIB = 1024 * 1024;
/** nesting bound of one item, as the API's MAX_JSON_DEPTH default */
const MAX_JSON_DEPTH = 32;

/** The format named by the file's extension, else sniffed: '[' → json, '{' → ndjson, else csv. */
export function detectFormat(file: string, head = ''): ImportFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  const first = head.replace(/^\uFEFF/, '').trimStart()[0];
  return first === '[' ? 'json' : first === '{' ? 'ndjson' : 'csv';
}

// --- records -------------------------------------------------------------------------------------

interface RecordText {
  text: string;
  /** line of the file the record starts on (1-based) */
  line: number;
}

/**
 * Cuts text fed in pieces into records: lines, or for CSV lines outside double quotes (RFC 4180:
 * a quote inside a quoted field is doubled, so the parity of quotes tells whether a line break is
 * inside a field). Blank records are dropped; line numbers count every physical line.
 */
export class RecordSplitter {
  private rest = '';
  private restQuotes = 0;
  private nextLine = 1;
  /** first physical line of `rest` */
  private restLine = 1;

  constructor(private readonly quoteAware: boolean) {}

  feed(piece: string, out: RecordText[]): void {
    let text = this.rest + piece;
    let start = 0;
    let scanFrom = this.rest.length;
    let quotes = this.restQuotes;
    let recordLine = this.restLine;
    for (;;) {
      const nl = text.indexOf('\n', scanFrom);
      if (nl < 0) break;
      if (this.quoteAware) {
        for (let q = text.indexOf('"', scanFrom); q >= 0 && q < nl; q = text.indexOf('"', q + 1)) quotes++;
      }
      this.nextLine++;
      scanFrom = nl + 1;
      if (quotes % 2 === 1) continue; // the line break is inside a quoted field
      this.emit(text.slice(start, nl), recordLine, out);
      start = nl + 1;
      quotes = 0;
      recordLine = this.nextLine;
    }
    if (this.quoteAware) {
      for (let q = text.indexOf('"', scanFrom); q >= 0; q = text.indexOf('"', q + 1)) quotes++;
    }
    text = text.slice(start);
    this.rest = text;
    this.restQuotes = quotes;
    this.restLine = recordLine;
  }

  end(out: RecordText[]): void {
    this.emit(this.rest, this.restLine, out);
    this.rest = '';
    this.restQuotes = 0;
  }

  private emit(raw: string, line: number, out: RecordText[]): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() !== '') out.push({ text, line });
  }
}

// --- progress ------------------------------------------------------------------------------------

interface Progress {
  start(total: number, unit: 'bytes' | 'rows'): void;
  update(done: number, counts: { rows: number; accepted: number; rejected: number }): void;
  stop(): void;
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');

function makeProgress(opts: ImportOptions): Progress {
  const p = progressDisplay(opts);
  let stopped = false;
  return {
    start: (total, unit) => p.start(total, unit),
    update: (done, c) => !stopped && p.update(done, c),
    stop: () => {
      if (!stopped) p.stop();
      stopped = true;
    },
  };
}

function progressDisplay(opts: ImportOptions): Progress {
  const stream = opts.progressStream ?? process.stderr;
  const mode = opts.progress ?? (stream.isTTY ? 'bar' : 'lines');
  const t0 = performance.now();
  const rate = (rows: number) => rows / Math.max((performance.now() - t0) / 1000, 1e-3);
  if (mode === 'none') return { start() {}, update() {}, stop() {} };
  if (mode === 'bar') {
    const bar = new SingleBar({
      stream: stream as NodeJS.WriteStream,
      format: 'import |{bar}| {percentage}% | {rows} rows: {accepted} accepted, {rejected} rejected | {rate} rows/s | ETA {eta_formatted}',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    });
    return {
      start: (total) => bar.start(Math.max(total, 1), 0, { rows: '0', accepted: '0', rejected: '0', rate: '0' }),
      update: (done, c) =>
        bar.update(done, { rows: num(c.rows), accepted: num(c.accepted), rejected: num(c.rejected), rate: num(rate(c.rows)) }),
      stop: () => bar.stop(),
    };
  }
  // plain lines: a log file or a pipe gets one line every few seconds, and a last one
  const every = opts.progressIntervalMs ?? 5000;
  let total = 1;
  let last = -Infinity;
  let latest = { done: 0, rows: 0, accepted: 0, rejected: 0 };
  const line = () => {
    const pct = Math.min(100, (latest.done / total) * 100);
    stream.write(`import: ${num(latest.rows)} rows (${pct.toFixed(0)}%), ${num(latest.accepted)} accepted, ` +
      `${num(latest.rejected)} rejected, ${num(rate(latest.rows))} rows/s\n`);
    last = performance.now();
  };
  return {
    start: (t) => {
      total = Math.max(t, 1);
      last = performance.now();
    },
    update: (done, c) => {
      latest = { done, ...c };
      if (performance.now() - last >= every) line();
    },
    stop: () => line(),
  };
}

// --- parsing a chunk with the contractor API's parsers --------------------------------------------

interface ParsedChunk {
  /** the items to ingest, in order (unreadable ones as UnreadableItem: ingestItems rejects them) */
  items: unknown[];
  /** for each item, its row number in the file (line, or item number for JSON) */
  rows: number[];
}

/**
 * Parses a chunk of records with parseNdjson / parseCsv (the CSV header in front). The parsers
 * number lines within the text they are given; those are mapped back to the file's lines.
 */
function parseRecords(format: 'ndjson' | 'csv', records: RecordText[], header: string | undefined, type: string): ParsedChunk {
  // absOf[chunk line] = line of the file
  const absOf: number[] = [0];
  const parts: string[] = [];
  if (format === 'csv') {
    parts.push(header!);
    absOf.push(1);
  }
  for (const r of records) {
    parts.push(r.text);
    let n = 0;
    if (format === 'csv') for (let i = r.text.indexOf('\n'); i >= 0; i = r.text.indexOf('\n', i + 1)) n++;
    for (let k = 0; k <= n; k++) absOf.push(r.line + k);
  }
  const text = parts.join('\n');
  const parsed = format === 'ndjson' ? parseNdjson(text) : parseCsv(text, type);
  const lines = parsed.lines ?? parsed.items.map((_, i) => i + (format === 'csv' ? 2 : 1));
  return { items: parsed.items, rows: lines.map((l) => absOf[l] ?? records[records.length - 1].line) };
}

/** The parsers prefix reasons with their (chunk-relative) line; the summary prints the file's line itself. */
const withoutLine = (reason: string): string => reason.replace(/^line \d+: /, '');

// --- the import ----------------------------------------------------------------------------------

export async function runImport(deps: IngestDeps, opts: ImportOptions): Promise<ImportSummary> {
  const t0 = performance.now();
  const tenant = opts.tenant ?? '';
  const atomic = opts.atomic ?? false;
  const chunkSize = atomic ? Infinity : (opts.chunkSize ?? 1000);
  const maxWhole = opts.maxWholeFileBytes ?? 256 * MIB;
  const maxReasons = opts.maxReasons ?? 20;
  const log = opts.log ?? (() => undefined);

  let size: number;
  try {
    const st = await stat(opts.file);
    if (!st.isFile()) throw new ImportUsageError(`${opts.file} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ImportUsageError) throw err;
    throw new ImportUsageError(`cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const format = opts.format ?? detectFormat(opts.file, await readHead(opts.file));
  if ((format === 'json' || atomic) && size > maxWhole) {
    throw new ImportUsageError(
      `${opts.file} is ${(size / MIB).toFixed(0)} MiB; ${atomic ? '--atomic' : 'a JSON array'} is read whole, up to ` +
        `${(maxWhole / MIB).toFixed(0)} MiB${atomic ? '' : ' (use NDJSON for larger files)'}`,
    );
  }

  const summary: ImportSummary = {
    file: opts.file, type: opts.type, tenant, format, atomic, rows: 0, accepted: 0, rejected: 0, notWritten: 0, rejections: [], seconds: 0, rowsPerSec: 0,
  };
  const reject = (row: number, reasons: string[], id?: string) => {
    summary.rejected++;
    if (summary.rejections.length < maxReasons) summary.rejections.push({ row, ...(id ? { id } : {}), reasons });
  };
  const progress = makeProgress(opts);

  /** Ingests one chunk of parsed items. */
  const ingest = async (chunk: ParsedChunk) => {
    summary.rows += chunk.items.length;
    let result: IngestResult;
    try {
      // --atomic: the whole file is one chunk, written in one transaction
      result = await ingestItems(deps, tenant, opts.type, chunk.items, { atomic, chunkSize: Math.max(chunk.items.length, 1) });
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      // the chunk as a whole was refused
      for (const row of chunk.rows) reject(row, [err.message]);
      return;
    }
    summary.accepted += result.accepted;
    let listed = 0;
    const rejected = result.items.filter((it) => it.status === 'rejected').sort((a, b) => a.index - b.index);
    // atomic: valid rows are rejected too ("valid, but not written"); list the rows at fault first
    if (atomic) rejected.sort((a, b) => Number(isCollateral(a)) - Number(isCollateral(b)) || a.index - b.index);
    for (const it of rejected) {
      if (isCollateral(it)) summary.notWritten++;
      const reasons = (it.errors ?? []).map((e) => {
        const reason = withoutLine(e.reason);
        return e.pointer && e.pointer !== '/' ? `${e.pointer}: ${reason}` : reason;
      });
      reject(chunk.rows[it.index] ?? it.index + 1, reasons.length ? reasons : ['rejected'], it.id);
      listed++;
    }
    // whatever was neither accepted nor listed (an atomic call may only list the culprits)
    summary.rejected += Math.max(0, chunk.items.length - result.accepted - listed);
    // the store failed: later chunks would fail the same way; stop (what was accepted is written)
    if (result.retryable) {
      const why = rejected.find((it) => it.errors?.length)?.errors?.[0].reason ?? 'the store failed';
      throw new ImportStoreError(`the store failed after ${summary.rows} rows (${summary.accepted} accepted and written): ${why}`);
    }
  };

  /** parses and ingests records; a CSV header error is the file's problem, not a row's */
  const flush = async (records: RecordText[], header: string | undefined) => {
    if (records.length === 0) return;
    let chunk: ParsedChunk;
    try {
      chunk = parseRecords(format as 'ndjson' | 'csv', records, header, opts.type);
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      if (/^(CSV header|the CSV body)/.test(err.message)) throw new ImportUsageError(`${opts.file}: ${err.message}`);
      summary.rows += records.length;
      for (const r of records) reject(r.line, [err.message]);
      return;
    }
    await ingest(chunk);
  };

  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    summary.seconds = (performance.now() - t0) / 1000;
    summary.rowsPerSec = summary.rows / Math.max(summary.seconds, 1e-3);
    printSummary(summary, log);
  };

  const counts = () => ({ rows: summary.rows, accepted: summary.accepted, rejected: summary.rejected });
  try {
    if (format === 'json') {
      const items = readJsonItems(await readFile(opts.file, 'utf8'), opts.file);
      progress.start(items.length, 'rows');
      const step = Math.min(chunkSize, Math.max(items.length, 1));
      for (let i = 0; i < items.length; i += step) {
        const slice = items.slice(i, i + step);
        await ingest({ items: slice, rows: slice.map((_, k) => i + k + 1) });
        progress.update(summary.rows, counts());
      }
    } else {
      progress.start(size, 'bytes');
      const splitter = new RecordSplitter(format === 'csv');
      const decoder = new StringDecoder('utf8');
      const stream = createReadStream(opts.file, { highWaterMark: MIB });
      let header: string | undefined;
      const pending: RecordText[] = [];
      /** bytes of the records ingested so far (blank lines and CR not counted: the last update is the file size) */
      let consumed = 0;
      let first = true;
      const take = async (final: boolean) => {
        if (format === 'csv' && header === undefined && pending.length) header = pending.shift()!.text;
        while (pending.length >= chunkSize || (final && pending.length)) {
          const records = pending.splice(0, Math.min(chunkSize, pending.length));
          await flush(records, header);
          for (const r of records) consumed += Buffer.byteLength(r.text) + 1;
          progress.update(Math.min(consumed, size), counts());
        }
      };
      for await (const buf of stream) {
        let piece = decoder.write(buf as Buffer);
        if (first) {
          piece = piece.replace(/^\uFEFF/, '');
          first = false;
        }
        splitter.feed(piece, pending);
        await take(false);
      }
      splitter.feed(decoder.end(), pending);
      splitter.end(pending);
      await take(true);
      if (format === 'csv' && header === undefined) throw new ImportUsageError(`${opts.file} is empty: a CSV file needs a header row`);
      progress.update(size, counts());
    }
  } catch (err) {
    if (err instanceof ImportStoreError) {
      progress.stop();
      finish();
      err.summary = summary;
    }
    throw err;
  } finally {
    progress.stop();
  }

  finish();
  return summary;
}

/** A JSON file: an array of items (or one item), each bounded like an API body; unreadable ones become UnreadableItems. */
function readJsonItems(text: string, file: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new ImportUsageError(`${file} is not valid JSON: ${(err as Error).message} (for one item per line use NDJSON)`);
  }
  let items: unknown[];
  try {
    items = parseJsonItems(value).items;
  } catch (err) {
    if (err instanceof NgsiError) throw new ImportUsageError(`${file}: ${err.message}`);
    throw err;
  }
  return items.map((item) => {
    try {
      assertJsonDepth(item, MAX_JSON_DEPTH);
      assertStorableText(item, 'the item');
      return item;
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      return new UnreadableItem([{ pointer: '/', reason: err.message }]);
    }
  });
}

async function readHead(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(256);
    const { bytesRead } = await fh.read(buf, 0, 256, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

export function printSummary(s: ImportSummary, log: (line: string) => void): void {
  const where = s.tenant ? `tenant '${s.tenant}'` : 'the default tenant';
  log(`import ${s.file} (${s.format}${s.atomic ? ', atomic' : ''}) as ${s.type} into ${where}: ${num(s.rows)} rows in ` +
    `${s.seconds.toFixed(1)} s (${num(s.rowsPerSec)} rows/s)`);
  log(`  accepted: ${num(s.accepted)}`);
  log(`  rejected: ${num(s.rejected)}` + (s.notWritten ? ` (${num(s.notWritten)} of them valid but not written: --atomic)` : ''));
  if (s.rejected === 0) return;
  const what = s.format === 'json' ? 'item' : 'line';
  log(s.rejections.length === s.rejected ? '  rejected rows:' : `  first ${s.rejections.length} of the ${num(s.rejected)} rejected rows:`);
  for (const r of s.rejections) {
    log(`    ${what} ${r.row}${r.id ? ` (${r.id})` : ''}: ${r.reasons.join('; ')}`);
  }
}
