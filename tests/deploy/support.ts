/** Shared by the deploy tests: the settings catalog with every component loaded, and compose interpolation. */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SETTINGS_CATALOG, type SettingsDeclaration, type SettingsSpec } from '../../core/config.js';
import { repoPath } from '../../core/paths.js';

/** Component config modules that declare settings (each registers itself in SETTINGS_CATALOG on import). */
const CONFIG_MODULES = ['ingest/config', 'scorer/config', 'drift-aggregator/config', 'api/config', 'trainer/config', 'core/tracing'];

/** Variables read directly (not settings), with the file that reads them: checked to still be read there. */
export const DIRECT_ENV: Record<string, string> = {};

export async function loadSettingsCatalog(): Promise<SettingsDeclaration<SettingsSpec>[]> {
  for (const module of CONFIG_MODULES) {
    const file = repoPath(`${module}.ts`);
    if (existsSync(file)) await import(/* @vite-ignore */ pathToFileURL(file).href);
  }
  return SETTINGS_CATALOG;
}

export function catalogEnvNames(catalog: SettingsDeclaration<SettingsSpec>[]): Set<string> {
  return new Set(catalog.flatMap((declaration) => Object.values(declaration.spec).map((spec) => spec.env)));
}

/**
 * Compose-style interpolation: `${VAR:-default}` and `${VAR-default}` take the default, `$$` is a
 * literal `$`; a bare `${VAR}` must be given in `vars`.
 */
export function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const given = name ? vars[name] : undefined;
    if (given !== undefined) return given;
    if (fallback !== undefined) return fallback;
    throw new Error(`\${${name}} has no default and no value`);
  });
}
