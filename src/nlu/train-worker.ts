import { parentPort } from 'node:worker_threads';
import { trainModel, type TrainingInput } from './engine.js';

// Trains models off the server's event loop: one message in ({input}), one out ({model} or
// {error}); train-runner.ts sends the next only once this one is answered, and terminates the
// worker past the training time limit.

parentPort!.on('message', async ({ input }: { input: TrainingInput }) => {
  try {
    parentPort!.postMessage({ model: await trainModel(input) });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
