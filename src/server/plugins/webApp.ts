/**
 * Static web app plugin: serves the built page (the `web-dist/` folder from `npm run build`)
 * at `/`, with the model and wasm files that were copied into it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ApiError } from '../errors.ts';

/** Options of the web app plugin. */
export interface WebAppPluginOptions {
  /** Absolute path of the built web app folder (holding index.html). */
  root: string;
}

const webAppPlugin: FastifyPluginAsync<WebAppPluginOptions> = async (app, { root }) => {
  if (!existsSync(join(root, 'index.html'))) {
    // Without a build the API still works; the page explains how to get the web app.
    app.log.warn({ root }, 'web app not built: run `npm run build` (npm start does it for you)');
    app.get('/', async () => {
      throw new ApiError(503, 'WEB_APP_NOT_BUILT', `the web app is not built in ${root}; run \`npm run build\` and restart`);
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: 'index.html',
    wildcard: true,
    setHeaders(reply, path) {
      // Vite puts a content hash in every file name under assets/, so those never change; the rest may.
      const immutable = path.includes(`${join(root, 'assets')}`);
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};

/** Registers the static web app routes. */
export default webAppPlugin;
