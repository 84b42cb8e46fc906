// Chinese labels of the canonical codes, for the pages people read: the console (bundled by Vite
// from this file) and the public status page (rendered by the gateway). One list, so that the
// supervisor and the applicant read the same word for the same status.
import type { CanonicalStatus } from '../../contracts/types';

export const STATUS_LABELS: Readonly<Record<CanonicalStatus, string>> = {
  SUBMITTED: '已提交',
  ACCEPTED: '已受理',
  REJECTED: '不予受理',
  UNDER_REVIEW: '审查中',
  SUPPLEMENT_REQUESTED: '待补正',
  SUPPLEMENTED: '已补正',
  SUSPENDED: '已中止',
  RESUMED: '已恢复办理',
  APPROVED: '准予许可',
  DENIED: '不予许可',
  COMPLETED: '已办结',
  DELIVERED: '已送达',
  WITHDRAWN: '已撤回',
};

export const LIGHT_LABELS: Readonly<Record<'GREEN' | 'YELLOW' | 'RED', string>> = {
  GREEN: '绿灯',
  YELLOW: '黄灯',
  RED: '红灯',
};

export const VIOLATION_LABELS: Readonly<Record<string, string>> = {
  NO_ACCEPTANCE: '未受理即办结',
  REOPENED: '办结后又有办理活动',
  REPEATED_SUPPLEMENT: '多次要求补正',
};

/** A status's label, or the code itself for one this list does not know yet (a newer contract). */
export function statusLabel(status: string): string {
  return (STATUS_LABELS as Record<string, string>)[status] ?? status;
}

/**
 * A time the hub produced (ISO 8601, +08:00) as Beijing wall-clock time, `2026-11-25 09:30`. Read
 * from the string itself, not through the reader's time zone: the page means Beijing time wherever
 * it is read.
 */
export function beijingTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const b = new Date(d.getTime() + 8 * 3600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${b.getUTCFullYear()}-${two(b.getUTCMonth() + 1)}-${two(b.getUTCDate())} ${two(b.getUTCHours())}:${two(b.getUTCMinutes())}`;
}
