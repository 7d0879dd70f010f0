/**
 * Datasets plugin (issue 11): the server keeps `hwr-ink-dataset` files (scripts taught by drawing, see
 * src/data/inkDataset.ts) so that a page, `hwr train --data ink:FILE.json` or another tool can share them.
 *
 * - `GET /api/datasets`: `{ datasets: [{ name, script, classes, samples, bytes, modified }], writes, limits }`
 * - `GET /api/datasets/:name`: the file (JSON), validated again as it is read
 * - `PUT /api/datasets/:name` (or `POST`): store the JSON body, an `hwr-ink-dataset` (400 `BAD_DATASET` naming the
 *   field); 201 when new, 200 when it replaced the old one; the answer is the summary
 * - `DELETE /api/datasets/:name`: 204; 404 `NOT_FOUND` when there is none
 *
 * Names are slugs (`DATASET_NAME`: `[a-z0-9][a-z0-9._-]{0,63}`): no path can be named. Limits (413): a dataset's
 * bytes (`HWR_DATASET_MAX_BYTES`, also this route's body limit), the folder's count and total bytes
 * (`HWR_DATASET_MAX_COUNT`, `HWR_DATASET_MAX_TOTAL_BYTES`); see ../datasetStore.ts.
 *
 * Access: writes are off unless the operator sets a token (`HWR_DATASET_TOKEN`): without one, PUT, POST and DELETE
 * answer 403 saying how to turn them on, and reads are open (the folder then holds only what the operator put there).
 * With a token, every route here, reads included (datasets can be personal handwriting), needs
 * `Authorization: Bearer <token>`: 401 without it, 403 with a wrong one. The token is compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseInkDataset } from '../../data/inkDataset.ts';
import { ApiError } from '../errors.ts';
import { DATASET_NAME, type DatasetStore } from '../datasetStore.ts';

/** Options of the datasets plugin. */
export interface DatasetsPluginOptions {
  store: DatasetStore;
}

const errorSchema = { $ref: 'hwr-error#' } as const;

const summarySchema = {
  type: 'object',
  required: ['name', 'bytes', 'modified'],
  properties: {
    name: { type: 'string' },
    script: { type: 'string' },
    classes: { type: 'integer', description: 'number of classes' },
    samples: { type: 'integer', description: 'number of samples' },
    bytes: { type: 'integer', description: 'size of the stored file' },
    modified: { type: 'string', description: 'last modification, ISO 8601' },
    error: { $ref: 'hwr-error#/properties/error' },
  },
} as const;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: DATASET_NAME.source, description: 'the dataset: 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit' } },
} as const;

/** True when `given` equals `secret`, in time independent of where they differ (both hashed to 32 bytes first). */
function sameSecret(given: string, secret: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(secret));
}

const datasetsPlugin: FastifyPluginAsync<DatasetsPluginOptions> = async (app, { store }) => {
  const { token, maxBytes, maxCount, maxTotalBytes } = store.options;
  // Bodies are JSON; plain text is refused (415) as on the recognition routes.
  app.removeContentTypeParser('text/plain');

  // Access is checked before the body is read: a refused upload is not parsed (the error handler drains it).
  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    const writing = request.method !== 'GET' && request.method !== 'HEAD';
    if (!token) {
      if (!writing) return;
      throw new ApiError(403, 'FORBIDDEN',
        'dataset writes are off on this server: start it with HWR_DATASET_TOKEN=<a secret> and send the header "Authorization: Bearer <the secret>"');
    }
    const match = /^Bearer +(.*[^ ]) *$/i.exec(request.headers.authorization ?? '');
    if (!match) {
      reply.header('www-authenticate', 'Bearer realm="hwr datasets"');
      throw new ApiError(401, 'UNAUTHORIZED', '/api/datasets needs the header "Authorization: Bearer <token>" (the server\'s HWR_DATASET_TOKEN)');
    }
    if (!sameSecret(match[1]!, token)) throw new ApiError(403, 'FORBIDDEN', 'the bearer token is not this server\'s HWR_DATASET_TOKEN');
  });

  app.get('/api/datasets', {
    schema: {
      summary: 'List the stored ink datasets',
      response: {
        200: {
          type: 'object',
          required: ['datasets', 'writes', 'limits'],
          properties: {
            datasets: { type: 'array', items: summarySchema },
            writes: { type: 'boolean', description: 'whether PUT, POST and DELETE are enabled (HWR_DATASET_TOKEN is set)' },
            limits: {
              type: 'object',
              properties: { maxBytes: { type: 'integer' }, maxCount: { type: 'integer' }, maxTotalBytes: { type: 'integer' } },
            },
          },
        },
        '4xx': errorSchema,
        '5xx': errorSchema,
      },
    },
  }, async () => ({ datasets: await store.list(), writes: Boolean(token), limits: { maxBytes, maxCount, maxTotalBytes } }));

  app.get('/api/datasets/:name', {
    schema: {
      summary: 'One stored ink dataset, as its hwr-ink-dataset JSON file',
      params: nameParams,
      response: { '4xx': errorSchema, '5xx': errorSchema },
    },
  }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const { text, summary } = await store.read(name);
    return reply
      .type('application/json; charset=utf-8')
      .header('last-modified', new Date(summary.modified).toUTCString())
      .send(text);
  });

  const storeRoute = {
    schema: {
      summary: 'Store an ink dataset under a name (create or replace)',
      description: `The body is an hwr-ink-dataset (JSON), at most ${maxBytes} bytes. 201 when new, 200 when it replaced one.`,
      params: nameParams,
      // The full check, naming the field, is parseInkDataset's (400 BAD_DATASET).
      body: { type: 'object', description: 'an hwr-ink-dataset: { format, version, script, classes, samples }' },
      response: { 200: summarySchema, 201: summarySchema, '4xx': errorSchema, '5xx': errorSchema },
    },
    bodyLimit: maxBytes,
  };
  const storeHandler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { name } = request.params as { name: string };
    const dataset = parseInkDataset(request.body, 'body');
    const { created, summary } = await store.write(name, dataset);
    if (created) reply.code(201).header('location', `/api/datasets/${name}`);
    return summary;
  };
  app.put('/api/datasets/:name', storeRoute, storeHandler);
  app.post('/api/datasets/:name', storeRoute, storeHandler);

  app.delete('/api/datasets/:name', {
    schema: { summary: 'Delete a stored ink dataset', params: nameParams, response: { '4xx': errorSchema, '5xx': errorSchema } },
  }, async (request, reply) => {
    const { name } = request.params as { name: string };
    await store.delete(name);
    return reply.code(204).send();
  });
};

/** Registers the `/api/datasets` routes; see the module docstring. */
export default datasetsPlugin;
