import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Transport, TransportContext, SplitMessage } from '../base';
import type { RawMessage } from '../../../../core/ports/inbox';
import type { RecordOutcome, RecordSource } from '../../../../core/ports/intake';
import { ConfigError } from '../../../../core/kernel/errors';
import { beijingYmd } from '../../../../core/identifiers/calendar-date';
import { IntervalJob } from '../../../../core/jobs/interval-job';
import { LeasedPoll, PollRound } from '../../../../core/jobs/leased-poll';
import { BatchFileFormat, BatchSummary, CorruptFile, readBatchFile } from '../../xml/batch-file';
import { DropFolders, exists, renameIfPresent, fsyncDir, removeIfPresent } from './file-drop-folders';
import { FileLedger, FileRow, LostClaim } from '../../../../core/ports/file-ledger';
import { ReceiptSpec, stageReceipt, publishReceipt, recordFields, toStoredResults } from './file-drop-receipt';
import { mapFileRecords, MappedChunk, RecordJob } from './file-drop-records';
import { checkInWorker, mapInWorker, WorkerAborted } from './file-drop-worker';
import optionsSchema from './file-drop.schema.json';
import { inSpan, SpanKind, SPAN_ATTRS } from '../../../../core/kernel/tracing';

export interface FileDropOptions {
  root?: string;
  inbox: string;
  pattern: string;
  markerSuffix?: string;
  minFileAgeSeconds: number;
  orphanMarkerHours: number;
  pollIntervalMs: number;
  maxFileBytes: number;
  encodings: string[];
  fallbackEncoding: string;
  batch: { element?: string; record: string; countAttribute?: string };
  chunkRecords: number;
  workerThresholdBytes: number;
  claimLeaseSeconds: number;
  archive: { retentionDays: number };
  receipt?: ReceiptSpec;
}

/** The hub is stopping: the file stays claimed where its last chunk left it, for the next start. */
class Stopping extends Error {}

const FINISHED = new Set(['applied', 'failed', 'receipted', 'archived']);

/**
 * A folder a department drops batch files into. Each complete file (its marker exists, or it is
 * old enough) is claimed by renaming it out of the inbox, checked as a whole (well-formed, no DTD,
 * an allowed encoding, the declared record count), then applied in chunks, each chunk's records
 * committed with the file's progress — so that a crash at any point resumes where the last commit
 * ended — and finally answered with a receipt and archived. A file whose bytes were seen before is
 * answered with the first file's receipt and applies nothing.
 */
export class FileDropTransport extends Transport<FileDropOptions> {
  static readonly optionsSchema = optionsSchema;
  private readonly format: BatchFileFormat;
  private readonly pattern: RegExp;
  private readonly fields: string[];
  private readonly sweep: IntervalJob;
  // Built at start: a transport constructed only to read samples (conformance) has no store or data folder.
  private watch!: LeasedPoll<FileRow[]>;
  private folders!: DropFolders;
  private ledger!: FileLedger;
  /** Files that failed for a reason of ours (I/O, a crashed worker): not retried before this time. */
  private readonly backoff = new Map<string, { until: number; failures: number }>();

  constructor(ctx: TransportContext, options: FileDropOptions) {
    super(ctx, options);
    const o = options;
    try {
      this.pattern = new RegExp(o.pattern);
    } catch (err) {
      throw new ConfigError(`${ctx.adapter.id}: file-drop pattern is not a regular expression: ${(err as Error).message}`, { adapter: ctx.adapter.id });
    }
    this.format = {
      root: o.batch.element, record: o.batch.record, countAttribute: o.batch.countAttribute,
      encodings: o.encodings, fallbackEncoding: o.fallbackEncoding, maxBytes: o.maxFileBytes,
    };
    this.fields = recordFields(o.receipt);
    this.sweep = new IntervalJob({
      name: `${ctx.adapter.id} archive retention`, intervalMs: 3600_000, maxBackoffMs: 3600_000, initialDelayMs: 5_000,
      run: () => this.purgeExpired(),
      onError: (err) => ctx.logger.warn({ err: (err as Error).message }, 'archive retention sweep failed'),
    });
  }

  /**
   * Reads a whole file held in memory (a sample, for the conformance runner); null when it is
   * corrupt. Files taken from the drop folder never pass through here nor through the inbox table:
   * they are streamed from their archived copy, which is their raw form.
   */
  async split(raw: RawMessage): Promise<SplitMessage | null> {
    const records: unknown[] = [];
    let batch: Record<string, string> = {};
    try {
      await readBatchFile(raw.body, this.format, { onRecords: (recs, b) => { batch = b; for (const r of recs) records.push(r.record); } });
    } catch (err) {
      if (err instanceof CorruptFile) return null;
      throw err;
    }
    return { records, batch };
  }

  async start(): Promise<void> {
    const o = this.options;
    const root = path.resolve(this.ctx.config.dataDir, o.root ?? path.join('drop', this.adapterId));
    this.folders = new DropFolders(root, path.resolve(root, o.inbox), o.receipt ? path.resolve(root, o.receipt.dir ?? 'receipts') : null);
    // One lease covers the folder and every file taken from it: one node of a cluster watches the
    // folder (`watch:<adapter>`), and the files it took and did not finish are recorded under it,
    // for whichever node holds the lease next.
    this.watch = new LeasedPoll({
      name: `watch:${this.adapterId}`, leases: this.ctx.leases, leaseSeconds: o.claimLeaseSeconds,
      intervalMs: o.pollIntervalMs, maxBackoffMs: 60_000, logger: this.ctx.logger,
      says: { held: 'this node watches the drop folder', elsewhere: 'another node watches the drop folder' },
      progress: () => this.ledger.open(),
      round: async (open, round) => { await this.tick(open, round); return 'done'; },
      onError: (err, n, retryInMs) => this.ctx.logger.error({ err: (err as Error).message, failures: n, retryInMs }, 'drop folder not read'),
    });
    this.ledger = this.ctx.files.ledger(this.adapterId, this.watch.owner);
    await this.folders.ensure();
    this.watch.start();
    this.sweep.start();
    this.ctx.logger.info({ inbox: this.folders.inbox, receipts: this.folders.receipts, lease: this.watch.name }, 'drop folder ready; watched by the holder of its lease');
  }

  async stop(): Promise<void> {
    if (!this.ledger) return;
    // Giving up the lease hands the folder, and the files this node has not finished, to the next node (or start).
    await this.watch.stop();
    await this.sweep.stop();
  }

  private async tick(open: FileRow[], round: PollRound): Promise<void> {
    const { signal } = round;
    for (const row of open) {
      if (signal.aborted) return;
      if (row.owner === this.watch.owner) await this.carryOn(row, signal);
      else {
        // This node holds the lease, so the file's holder no longer does: the file is this node's now.
        const held = await this.ledger.takeOver(row);
        if (held) {
          this.ctx.logger.info({ file: row.name, fileId: row.id, state: row.state, previousOwner: row.owner, resumeAt: held.recordsDone }, 'file taken over from a node that no longer watches the folder');
          await this.carryOn(held, signal);
        }
      }
    }
    const names = (await fs.promises.readdir(this.folders.inbox)).sort();
    // Housekeeping: a marker that cannot be moved must not stop the files behind it.
    await this.clearOrphanMarkers(names).catch((err) => this.ctx.logger.warn({ err: (err as Error).message }, 'orphaned markers not moved; tried again at the next look'));
    for (const name of await this.readyFiles(names)) {
      if (signal.aborted) return;
      await round.stillHeld();
      const row = await this.claim(name);
      if (row) await this.carryOn(row, signal);
    }
  }

  /** Complete files in the inbox, in name order (the departments' names carry time and sequence). */
  private async readyFiles(names: readonly string[]): Promise<string[]> {
    const { markerSuffix, minFileAgeSeconds } = this.options;
    const present = new Set(names);
    const out: string[] = [];
    for (const name of names) {
      if (!this.pattern.test(name) || (markerSuffix && name.endsWith(markerSuffix))) continue;
      if (markerSuffix && !present.has(name + markerSuffix)) continue;
      if (minFileAgeSeconds > 0) {
        const st = await fs.promises.stat(path.join(this.folders.inbox, name)).catch(() => null);
        if (!st?.isFile() || Date.now() - st.mtimeMs < minFileAgeSeconds * 1000) continue;
      }
      out.push(name);
    }
    return out;
  }

  /**
   * Markers whose file has been gone for orphanMarkerHours: moved to the archive, so that the inbox
   * does not fill up with them, and so that a later file of the same name is not taken as complete
   * before its own marker is written.
   */
  private async clearOrphanMarkers(names: readonly string[]): Promise<void> {
    const suffix = this.options.markerSuffix;
    if (!suffix) return;
    const present = new Set(names);
    for (const marker of names) {
      if (!marker.endsWith(suffix)) continue;
      const name = marker.slice(0, -suffix.length);
      if (!this.pattern.test(name) || present.has(name)) continue;
      const source = path.join(this.folders.inbox, marker);
      const st = await fs.promises.stat(source).catch(() => null);
      if (!st || Date.now() - st.mtimeMs < this.options.orphanMarkerHours * 3600_000) continue;
      const target = this.folders.archivePath('orphaned', beijingYmd(new Date()), `${randomUUID()}--${marker}`);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      // The file may have arrived since the folder was read: then the marker is its own, and stays.
      if (exists(path.join(this.folders.inbox, name))) continue;
      if (await renameIfPresent(source, target)) {
        this.ctx.metrics.files.inc({ adapter: this.adapterId, result: 'orphaned-marker' });
        this.ctx.logger.warn({ marker, archive: target, ageHours: Math.round((Date.now() - st.mtimeMs) / 360_000) / 10 }, 'marker without its file moved out of the inbox');
      }
    }
  }

  /**
   * Takes a file out of the inbox. The rename is the claim: of two hub processes only one can move
   * a file, and the store's row, written first, lets a restart find a file whichever step it
   * stopped at. The marker goes first, so that a marker is never left behind for a later file of
   * the same name to be taken before it is complete.
   */
  private async claim(name: string): Promise<FileRow | null> {
    const id = randomUUID();
    const target = this.folders.processingPath(id, name);
    const source = path.join(this.folders.inbox, name);
    const marker = this.options.markerSuffix;
    const row = await this.ledger.claim(id, name, target);
    if (marker && !(await renameIfPresent(source + marker, target + marker))) {
      await this.ledger.forget(id);
      return null;
    }
    if (!(await renameIfPresent(source, target))) {
      if (marker) await renameIfPresent(target + marker, source + marker);
      await this.ledger.forget(id);
      return null;
    }
    await fsyncDir(this.folders.processing);
    await fsyncDir(this.folders.inbox);
    this.ctx.logger.info({ file: name, fileId: id }, 'file taken from the inbox');
    return row;
  }

  /** Moves a file on from whatever state it is in to its archive; returns early to wait (a duplicate whose original is still being applied). */
  private async carryOn(start: FileRow, signal: AbortSignal): Promise<void> {
    const wait = this.backoff.get(start.id);
    if (wait && wait.until > Date.now()) return;
    let row: FileRow | null = start;
    try {
      while (row && !signal.aborted) {
        switch (row.state) {
          case 'claimed': row = await this.check(row, signal); break;
          case 'applying': {
            // A file's records are one message: its trace begins here (core/kernel/tracing).
            const applying: FileRow = row;
            row = await inSpan(`file ${this.adapterId}`, { root: true, kind: SpanKind.CONSUMER, attributes: () => ({ [SPAN_ATTRS.adapter]: this.adapterId, [SPAN_ATTRS.messageId]: applying.id, [SPAN_ATTRS.records]: applying.records ?? 0 }) }, (): Promise<FileRow | null> => this.apply(applying, signal));
            break;
          }
          case 'duplicate': {
            const original = await this.ledger.get(row.duplicateOf!);
            if (!original || !FINISHED.has(original.state)) return;
            row = await this.answer(row, original);
            break;
          }
          case 'applied':
          case 'failed': row = await this.answer(row, row); break;
          case 'receipted': await this.archive(row); row = null; break;
          default: row = null;
        }
      }
      this.backoff.delete(start.id);
    } catch (err) {
      if (err instanceof Stopping || err instanceof WorkerAborted) return;
      if (err instanceof LostClaim) {
        this.ctx.logger.warn({ file: start.name, fileId: start.id }, 'file taken over by another node; this node stops working on it');
        return;
      }
      const failures = (wait?.failures ?? 0) + 1;
      const retryInMs = Math.min(300_000, 1000 * 2 ** failures);
      this.backoff.set(start.id, { until: Date.now() + retryInMs, failures });
      this.ctx.logger.error({ file: start.name, fileId: start.id, state: row?.state, err: (err as Error).message, failures, retryInMs }, 'file not processed; it stays claimed and is tried again');
    }
  }

  /** The checking pass: nothing of the file is applied before the whole file has passed it. */
  private async check(row: FileRow, signal: AbortSignal): Promise<FileRow | null> {
    if (!exists(row.path) && !(await this.finishClaim(row))) return null;
    const size = (await fs.promises.stat(row.path)).size;
    const summary: BatchSummary = size >= this.options.workerThresholdBytes ? await checkInWorker(row.path, this.format, signal) : await readBatchFile(row.path, this.format);
    const error = summary.corrupt?.reason ?? null;
    const next = await this.ledger.validated(row.id, { sha256: summary.sha256, size: summary.size, batch: summary.batch, records: summary.records, error });
    if (next.state === 'failed') {
      // One count for the whole file: none of its records was looked at on its own.
      this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
      this.ctx.logger.warn({ file: row.name, fileId: row.id, rule: summary.corrupt!.rule, reason: error }, 'file refused as a whole; nothing applied');
    } else if (next.state === 'duplicate') {
      this.ctx.logger.info({ file: row.name, fileId: row.id, original: next.duplicateOf }, 'file has the same bytes as an earlier one; nothing applied, its receipt repeated');
    } else {
      this.ctx.logger.info({ file: row.name, fileId: row.id, records: next.records, bytes: next.size, encoding: summary.encoding }, 'file checked; applying');
    }
    return next;
  }

  /** A claim interrupted between the store and the rename: the file is moved now, or the claim dropped. */
  private async finishClaim(row: FileRow): Promise<boolean> {
    const marker = this.options.markerSuffix;
    const source = path.join(this.folders.inbox, row.name);
    if ((!marker || exists(row.path + marker)) && (await renameIfPresent(source, row.path))) {
      await fsyncDir(this.folders.processing);
      return true;
    }
    if (marker) await renameIfPresent(row.path + marker, source + marker);
    await this.ledger.forget(row.id);
    return false;
  }

  /** The applying pass, from the first record not yet committed. */
  private async apply(row: FileRow, signal: AbortSignal): Promise<FileRow | null> {
    if (row.records === 0) return this.ledger.finishEmpty(row.id);
    const started = Date.now();
    const source: RecordSource = { adapter: this.adapterId, rawMessageId: row.id, receivedAt: row.claimedAt, batch: row.batch ?? {} };
    const job: RecordJob = { file: row.path, format: this.format, rawMessageId: row.id, batch: row.batch ?? {}, skip: row.recordsDone, chunkRecords: this.options.chunkRecords, receiptFields: this.fields, keyFile: this.ctx.intake.dataKeys.file };
    const each = async (chunk: MappedChunk) => {
      if (signal.aborted) throw new Stopping();
      await this.applyChunk(row, source, chunk);
    };
    const profile = this.ctx.intake.profileOf(this.adapterId);
    if ((row.size ?? 0) >= this.options.workerThresholdBytes) {
      const ref = { file: profile.file, registryFile: this.ctx.config.registryFile, catalogueFile: this.ctx.config.catalogueFile, version: profile.version };
      for await (const chunk of mapInWorker(job, ref, this.adapterId)) await each(chunk);
    } else {
      await mapFileRecords(job, profile, each, this.ctx.intake.dataKeys);
    }
    const done = await this.ledger.get(row.id);
    if (!done || done.state !== 'applied') {
      throw new Error(`file ${row.id}: ${done?.recordsDone} of ${done?.records} records applied when its records ended`);
    }
    // The transport's logger already names the adapter.
    this.ctx.logger.info({
      file: row.name, fileId: row.id, records: done.records, accepted: done.accepted, duplicate: done.duplicates,
      rejected: done.rejected, resumedAt: row.recordsDone || undefined, seconds: (Date.now() - started) / 1000,
    }, 'file applied');
    return done;
  }

  /** One transaction: the chunk's events and dead letters, its receipt lines and the file's progress. */
  private async applyChunk(row: FileRow, source: RecordSource, chunk: MappedChunk): Promise<void> {
    await this.ctx.intake.apply(source, chunk.items, {
      before: (tx) => this.ledger.lockChunk(tx, row.id, chunk.first),
      commitWith: (tx, out) => this.ledger.saveChunk(tx, row.id, chunk.first, toStoredResults(this.fields, chunk.items.map((i) => i.record), out), tally(out)),
    });
    // Between chunks, whatever else waits on the event loop (HTTP requests) goes first.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Writes the receipt, from the original's results when the file is a copy of it. */
  private async answer(row: FileRow, original: FileRow): Promise<FileRow> {
    const spec = this.options.receipt;
    const dir = this.folders.receipts;
    if (spec && dir) {
      // Staged, recorded, then published: after a crash anywhere in between, the department still
      // gets exactly one receipt, even if it had already taken the first one away.
      if (!row.receiptStaged) {
        await stageReceipt(spec, dir, {
          fileId: row.id, fileName: row.name, batch: original.batch ?? row.batch ?? {}, finishedAt: original.finishedAt ?? new Date(),
          applied: original.accepted + original.duplicates, rejected: original.rejected, error: original.error,
          results: this.ledger.results(original.id),
        });
        row = await this.ledger.receiptStaged(row.id);
      }
      if ((await publishReceipt(spec, dir, row.name, row.id)) === 'taken') {
        this.ctx.logger.info({ file: row.name, fileId: row.id }, 'receipt published before a restart and already taken by the department; not written again');
      }
    }
    if (row.id !== original.id) {
      const m = this.ctx.metrics.inboundMessages;
      if (original.error) m.inc({ adapter: this.adapterId, result: 'rejected' });
      else {
        if (original.accepted + original.duplicates) m.inc({ adapter: this.adapterId, result: 'duplicate' }, original.accepted + original.duplicates);
        if (original.rejected) m.inc({ adapter: this.adapterId, result: 'rejected' }, original.rejected);
      }
    }
    return this.ledger.receipted(row.id);
  }

  /** Out of the processing folder into the archive, by outcome and day. */
  private async archive(row: FileRow): Promise<void> {
    const outcome = row.duplicateOf ? 'duplicate' : row.error ? 'failed' : 'processed';
    const target = this.folders.archivePath(outcome, beijingYmd(row.finishedAt ?? new Date()), row.path);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    if (!(await renameIfPresent(row.path, target)) && !exists(target)) {
      this.ctx.logger.warn({ file: row.name, fileId: row.id, path: row.path }, 'file to archive is missing');
    }
    if (this.options.markerSuffix) await removeIfPresent(row.path + this.options.markerSuffix);
    await fsyncDir(path.dirname(target));
    const { metrics } = this.ctx;
    metrics.files.inc({ adapter: this.adapterId, result: outcome });
    metrics.fileBytes.inc({ adapter: this.adapterId }, row.size ?? 0);
    metrics.fileDuration.observe({ adapter: this.adapterId }, (Date.now() - row.claimedAt.getTime()) / 1000);
    await this.ledger.archived(row.id, target);
    // Only a department that gets receipts was answered; the log says what happened, no more.
    const answered = Boolean(this.options.receipt && this.folders.receipts);
    this.ctx.logger.info({ file: row.name, fileId: row.id, outcome, archive: target }, answered ? 'file answered and archived' : 'file archived');
  }

  private async purgeExpired(): Promise<void> {
    for (const f of await this.ledger.expired(this.options.archive.retentionDays)) {
      await removeIfPresent(f.path);
      await this.ledger.purge(f.id);
    }
  }
}

function tally(outcomes: readonly RecordOutcome[]): { accepted: number; duplicates: number; rejected: number } {
  const t = { accepted: 0, duplicates: 0, rejected: 0 };
  for (const o of outcomes) {
    if (o.result === 'accepted') t.accepted++;
    else if (o.result === 'duplicate') t.duplicates++;
    else t.rejected++;
  }
  return t;
}
