import type { TrainingInput } from './engine.js';

// What a training will allocate outside the JavaScript heap, estimated before it starts. The
// classifier (linear-model.ts) holds typed arrays: its weights, features × intents × 4 bytes;
// each example's dual variable and candidate intents, examples × intents × 8; and the examples'
// features. They live outside V8's heap, so the training worker's heap limit does not cap them;
// a version with thousands of intents and tens of thousands of expressions would ask for
// gigabytes. Features are counted from the words, before training: each distinct word brings
// its stem and up to a dozen character n-grams (shared with other words: an over-estimate),
// each pair of words a bigram.

/** Features per distinct word, at most (its stem and its 3- and 4-letter pieces, for words of up to 7 letters). */
const FEATURES_PER_WORD = 12;

/** Bytes the classifier's arrays of this training need, about (never much less). */
export function classifierBytes({ bundle }: TrainingInput): number {
  const words = new Set<string>();
  const intents = new Set<string>();
  let examples = 0;
  let tokens = 0;
  // The examples' features: per expression, its distinct words' and its word pairs.
  let entries = 0;
  for (const intent of bundle.intents) {
    intents.add(intent.slug);
    for (const expression of intent.expressions) {
      examples++;
      const own = new Set<string>();
      for (const word of expression.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
        if (!word) continue;
        words.add(word);
        own.add(word);
        tokens++;
        entries++;
      }
      entries += own.size * FEATURES_PER_WORD;
    }
  }
  const features = words.size * FEATURES_PER_WORD + tokens;
  const k = intents.size;
  // Weights (float32), dual variables and candidates (4 bytes each), examples' features (4 + 8 bytes).
  return (features + 1) * k * 4 + (examples + 1) * k * 8 + entries * 12;
}

/** Why the training would not fit in `memoryMb`, or null when it fits. */
export function oversizedTraining(input: TrainingInput, memoryMb: number): string | null {
  const bytes = classifierBytes(input);
  if (bytes <= memoryMb * 1024 * 1024) return null;
  const mb = Math.ceil(bytes / (1024 * 1024));
  return (
    `training would need about ${mb} MB for the classifier alone (features × intents × 4 bytes, and examples × intents × 8), ` +
    `more than the training memory limit of ${memoryMb} MB: split the version's intents or vocabulary`
  );
}
