import fs from 'node:fs';
import { MappingProfile } from './engine';
import type { SharedTables } from './shared-tables';
import { ConfigError } from '../../../core/kernel/errors';
import type { Logger } from '../../../core/kernel/logger';

/**
 * The mapping profiles in force, one per adapter. A profile is reloaded when its file changes or on
 * an admin call, without a restart; a profile that fails to load leaves the previous one in force.
 */
export class ProfileSet {
  private readonly profiles = new Map<string, MappingProfile>();
  private readonly files = new Map<string, string>();
  private readonly watchers: fs.FSWatcher[] = [];

  constructor(private readonly shared: SharedTables, private readonly logger: Logger) {}

  add(adapter: string, file: string): MappingProfile {
    const p = MappingProfile.fromFile(file, this.shared);
    if (p.adapter !== adapter) throw new ConfigError(`${file}: profile is for adapter ${p.adapter}, not ${adapter}`);
    this.profiles.set(adapter, p);
    this.files.set(adapter, file);
    return p;
  }

  get(adapter: string): MappingProfile {
    const p = this.profiles.get(adapter);
    if (!p) throw new ConfigError(`no mapping profile for adapter ${adapter}`, { adapter });
    return p;
  }

  adapters(): string[] {
    return [...this.profiles.keys()];
  }

  /** Reloads one adapter's profile (or all); answers the versions now in force. */
  reload(adapter?: string): Record<string, { version: string; changed: boolean }> {
    const out: Record<string, { version: string; changed: boolean }> = {};
    for (const a of adapter ? [adapter] : this.adapters()) {
      const before = this.get(a).version;
      const p = this.add(a, this.files.get(a)!);
      out[a] = { version: p.version, changed: p.version !== before };
      if (p.version !== before) this.logger.info({ adapter: a, version: p.version, previous: before }, 'mapping profile reloaded');
    }
    return out;
  }

  /** Watches the profile files; a change reloads that profile. */
  watch(): void {
    for (const [adapter, file] of this.files) {
      let timer: NodeJS.Timeout | null = null;
      const w = fs.watch(file, () => {
        // Editors write in several steps: wait for the file to settle.
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          try {
            this.reload(adapter);
          } catch (err) {
            this.logger.error({ adapter, file, err: (err as Error).message }, 'mapping profile not reloaded; the previous one stays in force');
          }
        }, 200);
      });
      w.on('error', (err) => this.logger.warn({ adapter, file, err: err.message }, 'cannot watch mapping profile'));
      this.watchers.push(w);
    }
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }
}
