/**
 * Reading a Prometheus text exposition in tests: sample lines keyed `name{k=v,...}` with sorted labels, the
 * registry's default `component` label left out, so a test names a series without knowing the label order.
 */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].filter(([, key]) => key !== 'component').map(([, key, value]) => `${key}=${value}`).sort().join(',');
    out.set(`${match[1]}{${labels}}`, Number(match[3]));
  }
  return out;
}

/** The key `samples` gives the series `name` with these labels. */
export const series = (name: string, labels: Record<string, string>): string =>
  `${name}{${Object.entries(labels).map(([key, value]) => `${key}=${value}`).sort().join(',')}}`;
