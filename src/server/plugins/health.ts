/**
 * Health plugin: `GET /api/health` answers 200 once the model is loaded and 503 before
 * (or after a failed load), so a load balancer or a test can wait for readiness.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RecognizerSlot } from '../recognizerSlot.ts';

/** Options of the health plugin. */
export interface HealthPluginOptions {
  slot: RecognizerSlot;
  /** Whether `/api/datasets` accepts writes (the operator set `HWR_DATASET_TOKEN`). */
  datasetWrites?: boolean;
}

const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    /** `ok`, `loading` or `failed`. */
    status: { type: 'string' },
    /** Name of the loaded model; only when `ok`. */
    model: { type: 'string' },
    /** What runs it: `onnxruntime` (ONNX Runtime) or `tfjs` (TensorFlow.js); only when `ok`. */
    engine: { type: 'string' },
    /** Whether PUT, POST and DELETE on /api/datasets are enabled (HWR_DATASET_TOKEN is set). */
    datasetWrites: { type: 'boolean' },
    /** Seconds since the server process started. */
    uptimeSeconds: { type: 'number' },
    /** Why the server is not ready; only when not `ok`. */
    error: { $ref: 'hwr-error#/properties/error' },
  },
} as const;

const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = async (app, { slot, datasetWrites = false }) => {
  app.get('/api/health', { schema: { summary: 'Readiness', response: { 200: healthSchema, 503: healthSchema } } }, async (_request, reply) => {
    const uptimeSeconds = process.uptime();
    const { state } = slot;
    if (state.status === 'ready') {
      const { engine } = state.recognizer;
      return { status: 'ok', model: state.recognizer.metadata.name, ...(engine !== undefined ? { engine } : {}), datasetWrites, uptimeSeconds };
    }
    const message = state.status === 'loading' ? 'the model is still loading' : `the model failed to load: ${state.error.message}`;
    return reply.code(503).send({ status: state.status, datasetWrites, uptimeSeconds, error: { code: 'MODEL_NOT_READY', message } });
  });
};

/** Registers `GET /api/health`. */
export default healthPlugin;
