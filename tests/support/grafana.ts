/**
 * The Grafana dashboard as the ClickHouse plugin runs it: its panels, and its SQL with the dashboard
 * variables and the plugin's macros expanded ($__timeFilter, $__fromTime/$__toTime, $__interval_s).
 */
import { readFileSync } from 'node:fs';
import { repoPath } from '../../core/paths.js';

export interface GrafanaTarget { refId: string; rawSql: string }
export interface GrafanaPanel { id: number; type: string; title: string; targets: GrafanaTarget[] }
export interface GrafanaVariable { name: string; type: string; query: string }
export interface GrafanaDashboard { panels: GrafanaPanel[]; templating: { list: GrafanaVariable[] } }

export function loadDashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(repoPath('deploy/grafana/dashboards/driftline.json'), 'utf8')) as GrafanaDashboard;
}

export interface MacroValues {
  database: string;
  model: string;
  segment: string;
  features: string[];
  fromSeconds: number;
  toSeconds: number;
  intervalSeconds: number;
  /** The window_size variable (ms): the dashboard shows one window size at a time. Default 60000 (one minute). */
  windowSizeMs?: number;
}

const quote = (value: string): string => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** Expands what the dashboard uses; anything left with a `$` is an unknown macro and throws. */
export function expandGrafanaSql(sql: string, values: MacroValues): string {
  const from = `toDateTime(${Math.floor(values.fromSeconds)})`;
  const to = `toDateTime(${Math.ceil(values.toSeconds)})`;
  const out = sql
    .replaceAll('${database}', values.database)
    .replaceAll('${model:sqlstring}', quote(values.model))
    .replaceAll('${segment:sqlstring}', quote(values.segment))
    .replaceAll('${feature:singlequote}', values.features.map(quote).join(','))
    .replaceAll('${window_size}', String(values.windowSizeMs ?? 60_000))
    .replace(/\$__timeFilter\((\w+)\)/g, (_m, column: string) => `${column} >= ${from} AND ${column} <= ${to}`)
    .replaceAll('$__fromTime', from)
    .replaceAll('$__toTime', to)
    .replaceAll('$__interval_s', String(values.intervalSeconds));
  if (out.includes('$')) throw new Error(`unexpanded Grafana macro in: ${sql}`);
  return out;
}

/** The columns each panel plots (time series: the time column and its values); a new panel must be added here. */
export const PLOTTED_COLUMNS: Record<string, string[]> = {
  'Drift status per feature': ['time', 'feature', 'status'],
  'PSI per feature': ['time', 'feature', 'value'],
  'KS statistic per feature': ['time', 'feature', 'value'],
  'Outlier rate': ['time', 'outlier_rate'],
  'Events per window': ['time', 'events', 'late_events', 'outliers'],
  'Live macro-F1': ['time', 'macro_f1', 'accuracy'],
  'Macro-F1 (last window)': ['time', 'macro_f1'],
  'Features red now': ['red_features'],
  'Windows with lost state': ['lost_windows'],
  'Mean confidence': ['mean_confidence'],
  'Late events per window': ['time', 'late_events', 'late_share'],
  'Status per segment': ['time', 'segment', 'status'],
  'Alert history': ['time', 'segment', 'feature', 'metric', 'previous_status', 'status', 'change', 'alert_id'],
  'Recent reviews': ['time', 'model_version', 'segment', 'review_id', 'rating', 'sentiment', 'confidence', 'text'],
};

/** Panels that are empty while nothing ever changed state (a run whose traffic stayed green has no alerts). */
export const EMPTY_WITHOUT_ALERTS: ReadonlySet<string> = new Set(['Alert history']);
