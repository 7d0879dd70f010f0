/**
 * Holds the server's recognizer while it loads, so the server can listen (and answer
 * `GET /api/health` with 503) before the model is ready, instead of refusing connections.
 */
import { ApiError } from './errors.ts';
import type { RecognitionService } from './recognitionPool.ts';

/** Where the model is: still loading, ready, or failed with the reason. */
export type RecognizerState =
  | { status: 'loading' }
  | { status: 'ready'; recognizer: RecognitionService }
  | { status: 'failed'; error: Error };

/**
 * A recognizer that is loading in the background. Created with the promise of a recognizer;
 * never rejects itself (a failed load is kept as `state.error` and logged by the caller through `onFailure`).
 */
export class RecognizerSlot {
  state: RecognizerState = { status: 'loading' };
  /** Settles (never rejects) once the load has finished either way. */
  readonly settled: Promise<void>;

  constructor(loading: Promise<RecognitionService>, onFailure?: (error: Error) => void) {
    this.settled = loading.then(
      (recognizer) => {
        this.state = { status: 'ready', recognizer };
      },
      (reason: unknown) => {
        const error = reason instanceof Error ? reason : new Error(String(reason));
        this.state = { status: 'failed', error };
        onFailure?.(error);
      },
    );
  }

  /**
   * The loaded recognizer.
   * @throws ApiError 503 `MODEL_NOT_READY` while loading or after a failed load.
   */
  get(): RecognitionService {
    if (this.state.status === 'ready') return this.state.recognizer;
    if (this.state.status === 'loading') throw new ApiError(503, 'MODEL_NOT_READY', 'the model is still loading; retry in a moment');
    throw new ApiError(503, 'MODEL_NOT_READY', `the model failed to load: ${this.state.error.message}`);
  }

  /** Frees the model's tensors (and stops a pool's workers) once the load has settled. Safe to call more than once. */
  async dispose(): Promise<void> {
    await this.settled;
    if (this.state.status === 'ready') {
      await this.state.recognizer.dispose();
      this.state = { status: 'failed', error: new Error('the server is shutting down') };
    }
  }
}
