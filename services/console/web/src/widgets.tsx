// Small pieces every view uses: the light badge, loading and error notes, dates.
import type { ComponentChildren } from 'preact';
import { LIGHT_LABELS, beijingTime } from '../../labels';
import type { Light } from './types';

export function LightBadge({ light }: { light: Light | null | undefined }) {
  if (!light) return <span class="light light-none">未计算</span>;
  // The word as well as the colour: a light is never told by colour alone.
  return <span class={`light light-${light.toLowerCase()}`}>{LIGHT_LABELS[light]}</span>;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return <time dateTime={iso}>{beijingTime(iso)}</time>;
}

export function Note({ kind = 'info', children }: { kind?: 'info' | 'error'; children: ComponentChildren }) {
  return <p class={`note note-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>{children}</p>;
}

export function Loading() {
  return <p class="note" role="status" aria-live="polite">正在加载……</p>;
}

export const percent = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);

/** A date (YYYY-MM-DD) in Beijing, `days` from today. */
export function beijingDate(days = 0, from = Date.now()): string {
  return new Date(from + 8 * 3600_000 + days * 86_400_000).toISOString().slice(0, 10);
}

export const ROLE_LABELS: Record<string, string> = { supervisor: '监察', department: '部门', operator: '运维', auditor: '审计', public: '公众' };
export const ALERT_KIND_LABELS: Record<string, string> = { LIGHT_CHANGED: '亮灯变化', VIOLATION: '违规', FOLLOW_UP_OVERDUE: '回访逾期' };
