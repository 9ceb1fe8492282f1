import type { TrainingInput } from './engine.js';

// What a training will allocate outside the JavaScript heap, estimated before it starts. NLP.js's
// classifier keeps, for each language, two Float32Arrays per intent as long as the number of
// distinct features (about the distinct words): intents × words × 8 bytes. Those arrays live
// outside V8's heap, so the training worker's heap limit does not cap them; a version with
// thousands of intents and tens of thousands of distinct words would ask for gigabytes. Counting
// distinct words (before stemming, so an over-estimate) bounds them with the same limit.

/** Bytes the classifier's weights of this training need, about (never less). */
export function classifierBytes({ bundle, language }: TrainingInput): number {
  const byLanguage = new Map<string, { intents: Set<string>; words: Set<string> }>();
  for (const intent of bundle.intents) {
    const lang = intent.language ?? language;
    let entry = byLanguage.get(lang);
    if (!entry) byLanguage.set(lang, (entry = { intents: new Set(), words: new Set() }));
    entry.intents.add(intent.slug);
    for (const expression of intent.expressions)
      for (const word of expression.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (word) entry.words.add(word);
  }
  let bytes = 0;
  for (const { intents, words } of byLanguage.values()) bytes += intents.size * words.size * 8;
  return bytes;
}

/** Why the training would not fit in `memoryMb`, or null when it fits. */
export function oversizedTraining(input: TrainingInput, memoryMb: number): string | null {
  const bytes = classifierBytes(input);
  if (bytes <= memoryMb * 1024 * 1024) return null;
  const mb = Math.ceil(bytes / (1024 * 1024));
  return (
    `training would need about ${mb} MB for the classifier alone (intents × distinct words × 8 bytes), ` +
    `more than the training memory limit of ${memoryMb} MB: split the version's intents or vocabulary`
  );
}
