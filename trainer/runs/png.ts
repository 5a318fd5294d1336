/**
 * PNG from our SVG with @resvg/resvg-js (a prebuilt Rust renderer, no browser or canvas needed). The PNG is
 * what people open; when the module cannot load on a platform without its prebuilt binary, the run keeps
 * its SVG and says why the PNG is missing instead of failing the job.
 */
export type PngResult = { ok: true; png: Buffer } | { ok: false; reason: string };

type ResvgModule = typeof import('@resvg/resvg-js');

let loaded: Promise<ResvgModule | string> | undefined;

function loadResvg(): Promise<ResvgModule | string> {
  loaded ??= import('@resvg/resvg-js').then(
    (module): ResvgModule => module,
    (err: unknown) => `@resvg/resvg-js cannot be loaded (${err instanceof Error ? err.message : String(err)})`,
  );
  return loaded;
}

export async function svgToPng(svg: string): Promise<PngResult> {
  const resvg = await loadResvg();
  if (typeof resvg === 'string') return { ok: false, reason: resvg };
  const renderer = new resvg.Resvg(svg, { background: '#ffffff', font: { loadSystemFonts: true } });
  return { ok: true, png: renderer.render().asPng() };
}
