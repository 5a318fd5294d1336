/**
 * Runs (trainer/runs/): GET /v1/runs, /v1/runs/{id} and /v1/runs/{id}/artifacts/{name}. Public read, as
 * GET /v1/models is: a run holds the same kind of facts (metrics, parameters, data fingerprint) and names
 * its data files only relative to the repository. Artifacts are served only by the names the run lists,
 * with the content type recorded for them, so no path reaches the file system from the URL.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RunKind, RunRecord, RunStore } from '../../trainer/index.js';
import { getRunArtifactRouteSchema, getRunRouteSchema, listRunsRouteSchema } from '../schemas/runs.js';

export interface RunsPluginOptions {
  runs: RunStore;
}

function runView(run: RunRecord): Record<string, unknown> {
  return {
    id: run.id,
    kind: run.kind,
    created_at: run.createdAt,
    model: { name: run.model.name, version: run.model.version, parent_version: run.model.parentVersion },
    params: run.params,
    data: run.data,
    metrics: run.metrics,
    artifacts: run.artifacts.map((a) => ({ name: a.name, content_type: a.contentType, bytes: a.bytes, description: a.description, url: `/v1/runs/${run.id}/artifacts/${a.name}` })),
    notes: run.notes,
  };
}

export const runsPlugin: FastifyPluginAsync<RunsPluginOptions> = async (app, options) => {
  const { runs } = options;

  app.get('/v1/runs', { schema: listRunsRouteSchema }, async (request) => {
    const query = request.query as { kind?: RunKind; limit: number; offset: number };
    const page = await runs.list({ ...(query.kind ? { kind: query.kind } : {}), limit: query.limit, offset: query.offset });
    return { runs: page.runs.map(runView), total: page.total, limit: query.limit, offset: query.offset };
  });

  app.get('/v1/runs/:id', { schema: getRunRouteSchema }, async (request) => runView(await runs.get((request.params as { id: string }).id)));

  app.get('/v1/runs/:id/artifacts/:name', { schema: getRunArtifactRouteSchema }, async (request, reply) => {
    const { id, name } = request.params as { id: string; name: string };
    const artifact = await runs.artifact(id, name);
    return reply
      .type(artifact.contentType)
      // A run never changes once written; an SVG opened from here may not run anything.
      .header('cache-control', 'public, max-age=86400, immutable')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(artifact.content);
  });
};
