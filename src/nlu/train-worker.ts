import { parentPort } from 'node:worker_threads';
import { trainModel, type TrainingInput } from './engine.js';
import { oversizedTraining } from './training-size.js';

// Trains models off the server's event loop: one message in ({input, memoryMb}), one out
// ({model} or {error}); train-runner.ts sends the next only once this one is answered, and terminates the
// worker past the training time limit.

parentPort!.on('message', async ({ input, memoryMb }: { input: TrainingInput; memoryMb: number }) => {
  try {
    // Refused before anything is allocated: the classifier's arrays are outside the heap limit.
    const oversized = oversizedTraining(input, memoryMb);
    if (oversized) throw new Error(oversized);
    parentPort!.postMessage({ model: await trainModel(input) });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
