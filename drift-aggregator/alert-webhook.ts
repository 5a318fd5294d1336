/**
 * Alert delivery to a webhook: a Slack-compatible JSON body (`text` for notifications and clients
 * without blocks, `blocks` for the message), posted with a time limit and retried with core/retry.ts
 * back-off. Only what may succeed later is retried: network errors, timeouts, 429 and 5xx
 * (WEBHOOK_UNAVAILABLE). Any other 4xx means the request itself is wrong (bad URL, revoked token):
 * WEBHOOK_REFUSED, never retried.
 */
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { withRetry } from '../core/retry.js';
import type { DriftAlert } from '../schemas/types.js';

const STATUS_EMOJI = { green: ':large_green_circle:', amber: ':large_orange_circle:', red: ':red_circle:' } as const;

/** What the change means: raised (from green), escalated, de-escalated, recovered (to green). */
export function changeKind(alert: DriftAlert): 'raised' | 'escalated' | 'de-escalated' | 'recovered' {
  const rank = { green: 0, amber: 1, red: 2 } as const;
  if (alert.status === 'green') return 'recovered';
  const previous = alert.previous_status ?? 'green';
  if (previous === 'green') return 'raised';
  return rank[alert.status] > rank[previous] ? 'escalated' : 'de-escalated';
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 1e6 ? value.toExponential(2) : value.toFixed(4);
}

/** One human line per alert (what `driftline alerts` prints and the webhook's `text`). */
export function alertLine(alert: DriftAlert): string {
  const segment = alert.segment ?? 'all';
  const when = new Date(alert.window_start_ms).toISOString();
  const transition = `${alert.previous_status ?? '?'}→${alert.status}`;
  const items = alert.items
    .map((i) => `${i.feature} ${i.metric}=${formatNumber(i.value)} (amber ${i.threshold_amber}, red ${i.threshold_red}${i.p_value === null ? '' : `, p=${i.p_value.toExponential(2)}`})`)
    .join('; ');
  return `${alert.status.toUpperCase()} ${changeKind(alert)} ${transition} ${alert.model_name} v${alert.model_version} segment ${segment}: ${items} window ${when} alert ${alert.alert_id}`;
}

export interface SlackBody {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** The Slack-compatible webhook body of an alert (incoming webhooks take `text` + `blocks`). */
export function slackBody(alert: DriftAlert): SlackBody {
  const kind = changeKind(alert);
  const item = alert.items[0];
  const subject = item ? `${item.feature} ${item.metric}` : `${alert.items.length} items`;
  const headline = `${STATUS_EMOJI[alert.status]} *Drift ${kind}*: ${alert.model_name} v${alert.model_version}, segment ${alert.segment ?? 'all'}, ${subject} is now *${alert.status}*${alert.previous_status ? ` (was ${alert.previous_status})` : ''}`;
  const fields = alert.items.map((i) => ({
    type: 'mrkdwn',
    text: `*${i.feature} ${i.metric}*\n${formatNumber(i.value)} (amber ≥ ${i.threshold_amber}, red ≥ ${i.threshold_red}${i.p_value === null ? '' : `, p=${i.p_value.toExponential(2)}`})`,
  }));
  return {
    text: alertLine(alert),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: headline } },
      ...(fields.length > 0 ? [{ type: 'section', fields: fields.slice(0, 10) }] : []),
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `window ${new Date(alert.window_start_ms).toISOString()} – ${new Date(alert.window_end_ms).toISOString()} · alert \`${alert.alert_id}\`${alert.episode_start_ms === null ? '' : ` since ${new Date(alert.episode_start_ms).toISOString()}`}` },
        ],
      },
    ],
  };
}

/** Checks a webhook URL before anything is consumed (CONFIG_INVALID names the setting). */
export function parseWebhookUrl(raw: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DriftlineError('CONFIG_INVALID', `${field}: ${JSON.stringify(raw)} is not a URL`, { field });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DriftlineError('CONFIG_INVALID', `${field}: only http and https webhooks are supported, got ${url.protocol}`, { field });
  return url;
}

/** One POST; throws WEBHOOK_UNAVAILABLE (retriable) or WEBHOOK_REFUSED (not) unless the answer is 2xx. */
export async function postWebhook(url: URL, body: unknown, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
    throw new DriftlineError('WEBHOOK_UNAVAILABLE', `POST ${url.origin}${url.pathname}: ${why}`, { cause: err });
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return;
  const answer = `POST ${url.origin}${url.pathname} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  const retriable = response.status === 429 || response.status >= 500;
  throw new DriftlineError(retriable ? 'WEBHOOK_UNAVAILABLE' : 'WEBHOOK_REFUSED', answer, { details: { status: response.status } });
}

export interface DeliveryOptions {
  url: URL;
  attempts: number;
  timeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Aborted on shutdown: no new attempt starts (the alert stays uncommitted and is delivered after a restart). */
  signal?: AbortSignal;
  onRetry?: (err: DriftlineError, attempt: number, delayMs: number) => void;
}

export type DeliveryOutcome = { delivered: true; attempts: number } | { delivered: false; attempts: number; error: DriftlineError };

/** Posts the alert's Slack body, retried; a final failure is returned (the caller dead-letters it), not thrown. */
export async function deliverAlert(alert: DriftAlert, options: DeliveryOptions): Promise<DeliveryOutcome> {
  let attempts = 0;
  const body = slackBody(alert);
  try {
    await withRetry(
      async () => {
        attempts++;
        await postWebhook(options.url, body, options.timeoutMs);
      },
      { retries: options.attempts - 1, initialDelayMs: options.initialDelayMs, maxDelayMs: options.maxDelayMs, signal: options.signal, onRetry: options.onRetry },
    );
    return { delivered: true, attempts };
  } catch (err) {
    return { delivered: false, attempts, error: toDriftlineError(err) };
  }
}
