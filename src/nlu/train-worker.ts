import { parentPort } from 'node:worker_threads';
import { trainModel, type TrainingInput } from './engine.js';

// Trains models off the server's event loop: one message in ({id, input}), one out ({id, model}
// or {id, error}). Training is CPU-bound for seconds on a large bot; requests keep flowing.

parentPort!.on('message', async ({ id, input }: { id: number; input: TrainingInput }) => {
  try {
    parentPort!.postMessage({ id, model: await trainModel(input) });
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
