import { Featurizer } from './features.js';

// The intent classifier: one linear model per intent (one-vs-rest) over TF-IDF weighted
// features (features.ts), each a support vector machine with the squared hinge loss, trained
// by dual coordinate descent (Hsieh et al. 2008, the solver of LIBLINEAR). The solver takes the
// examples one at a time and updates every intent's model for each, with the weights laid out
// feature-major, so that each example costs one pass over its features and a contiguous row
// per feature. A linear SVM on word and character n-grams is the strongest of the classical
// intent classifiers (0.91 on the 150-intent CLINC corpus, Larson et al. 2019) and trains in
// seconds where NLP.js's network took minutes.
//
// A score is turned into a confidence by one sigmoid, the same for every bot (CALIBRATION,
// fitted on the benchmark corpora of 2 to 77 intents): one-vs-rest scores do not shrink as
// intents are added, as a softmax's do, so one threshold means the same for 5 intents and
// for 150. A message unlike every intent scores low on all of them: that is out of scope.

/**
 * The regularization constant: 4 rather than LIBLINEAR's 1. Bots of a few expressions per
 * intent need the looser fit (the Braun corpora: 0.942 at 4, 0.928 at 2, 0.919 at 1), and
 * Banking77 does not mind (0.916 / 0.915 / 0.914).
 */
const C = 4;
/**
 * Full passes over the examples at most (see solve), each followed by PARTIAL_PASSES cheap
 * ones: on Banking77, 3 and 3 reach the accuracy of 20 full passes in a sixth of the time.
 */
const MAX_FULL_PASSES = 3;
const PARTIAL_PASSES = 3;
/** A negative intent stays a candidate of an example while its score is above the margin (-1) less this. */
const CANDIDATE_MARGIN = 0;
/** Stop once no intent's projected gradients spread over more than this (LIBLINEAR's default). */
const EPSILON = 0.1;
/**
 * Features seen in a single expression are dropped from bots this large (half the features,
 * a tenth of a point of accuracy): the model's memory is features × intents.
 */
const RARE_FEATURES_FROM = 5_000;
/**
 * confidence = 1 / (1 + e^-(a·score + b)), the same for every bot: 0.5 at a score of -0.45, the
 * point that keeps 98 % of Banking77's correct answers and rejects most messages of another
 * domain (README, "NLU"; bench/nlu.bench.js measures what each confidence band holds).
 */
const CALIBRATION = { a: 4, b: 1.8 };

/** The label of the example that says nothing: no intent's. */
const NOTHING = -1;

export interface LinearModelData {
  classes: string[];
  /** How many examples it was trained on (the idf of an unseen feature depends on it). */
  examples: number;
  /** Feature names, in the order of the weights' rows; the last row is the bias. */
  features: string[];
  /** Per feature, its inverse document frequency (base64 of a Float32Array). */
  idf: string;
  /** features+1 rows of classes.length weights (base64 of a Float32Array). */
  weights: string;
}

export interface Example {
  text: string;
  language: string;
  label: string;
}

/** Trains on the examples; deterministic (the order of the examples is shuffled with a fixed seed). */
export function trainLinear(examples: Example[]): LinearModelData {
  const featurizers = new Map<string, Featurizer>();
  const featurizer = (language: string) => {
    let f = featurizers.get(language);
    if (!f) featurizers.set(language, (f = new Featurizer(language)));
    return f;
  };
  const docs = examples.map((e) => featurizer(e.language).features(e.text));
  const df = new Map<string, number>();
  for (const doc of docs) for (const name of doc.keys()) df.set(name, (df.get(name) ?? 0) + 1);
  const minDf = examples.length >= RARE_FEATURES_FROM ? 2 : 1;
  const features = [...df.keys()].filter((name) => df.get(name)! >= minDf);
  const index = new Map(features.map((name, i) => [name, i]));
  const n = examples.length;
  const idf = Float32Array.from(features, (name) => Math.log((1 + n) / (1 + df.get(name)!)) + 1);
  const classes = [...new Set(examples.map((e) => e.label))].sort();
  const labels = new Map(classes.map((c, i) => [c, i]));

  // The examples as sparse rows (CSR), the bias feature last in each; then one more example
  // that says nothing (the bias alone), a negative of every intent: what a message of unknown
  // words is. Without it a bot of one intent (what `botver init` makes) or of a few uneven
  // ones gives its intent to anything, as nothing in its training says otherwise.
  const bias = features.length;
  const unknownIdf = Math.log(1 + n) + 1;
  const rows = [
    ...docs.map((doc) => vectorize(doc, index, idf, unknownIdf)),
    { ids: new Int32Array(0), values: new Float64Array(0) },
  ];
  const m = rows.length;
  const offsets = new Int32Array(m + 1);
  for (let i = 0; i < m; i++) offsets[i + 1] = offsets[i]! + rows[i]!.ids.length + 1;
  const ids = new Int32Array(offsets[m]!);
  const values = new Float64Array(offsets[m]!);
  for (let i = 0; i < m; i++) {
    const row = rows[i]!;
    ids.set(row.ids, offsets[i]!);
    values.set(row.values, offsets[i]!);
    ids[offsets[i + 1]! - 1] = bias;
    values[offsets[i + 1]! - 1] = 1;
  }
  const y = Int32Array.from(rows, (_, i) => (i < n ? labels.get(examples[i]!.label)! : NOTHING));
  const weights = solve({ n: m, k: classes.length, f: features.length + 1, offsets, ids, values, y });
  return { classes, examples: n, features, idf: base64(idf), weights: base64(weights) };
}

/** A trained model, ready to score texts. */
export class LinearModel {
  readonly classes: string[];
  private readonly index: Map<string, number>;
  private readonly idf: Float32Array;
  private readonly weights: Float32Array;
  private readonly featurizers = new Map<string, Featurizer>();
  /** The idf of a feature no training example had. */
  private readonly unknownIdf: number;
  /** Added to every score before the sigmoid (see the constructor). */
  private readonly shift: number;

  constructor(data: LinearModelData) {
    const damaged = (why: string) => new Error(`the model is damaged: ${why}`);
    if (!Array.isArray(data.classes) || !Array.isArray(data.features)) throw damaged('no classes or features');
    if (!Number.isInteger(data.examples) || data.examples < 1) throw damaged('no count of examples');
    this.classes = data.classes;
    this.index = new Map(data.features.map((name, i) => [name, i]));
    if (this.index.size !== data.features.length) throw damaged('a feature is listed twice');
    this.idf = fromBase64(data.idf);
    this.weights = fromBase64(data.weights);
    if (
      this.idf.length !== data.features.length ||
      this.weights.length !== (data.features.length + 1) * data.classes.length
    )
      throw damaged('its weights do not match its features');
    this.unknownIdf = Math.log(1 + data.examples) + 1;
    // What a message of unknown words scores is an intent's bias: -1 or less when each intent
    // is a small part of the examples (a large bot), nearer 0 in a bot of a few intents, where
    // an unrelated message would otherwise be as sure as a related one of a large bot. Such a
    // bot's scores are moved down, halfway to a mean bias of -1: the same confidence then means
    // about as little evidence for 2 intents as for 150 (the ranking of intents does not
    // change). All the way, the Braun corpora's bots would drop to 0.80 at the threshold.
    const k = data.classes.length;
    let biases = 0;
    for (let c = 0; c < k; c++) biases += this.weights[data.features.length * k + c]!;
    this.shift = 0.5 * Math.min(0, -1 - biases / k);
  }

  /** Every intent's confidence (0..1) for `text`, in the order of `classes`. */
  confidences(text: string, language: string): Float64Array {
    let featurizer = this.featurizers.get(language);
    if (!featurizer) this.featurizers.set(language, (featurizer = new Featurizer(language)));
    const { ids, values } = vectorize(featurizer.features(text), this.index, this.idf, this.unknownIdf);
    const k = this.classes.length;
    const scores = new Float64Array(k);
    const w = this.weights;
    const biasRow = this.index.size * k;
    for (let c = 0; c < k; c++) scores[c] = w[biasRow + c]!;
    for (let j = 0; j < ids.length; j++) {
      const row = ids[j]! * k;
      const v = values[j]!;
      for (let c = 0; c < k; c++) scores[c]! += w[row + c]! * v;
    }
    for (let c = 0; c < k; c++)
      scores[c] = 1 / (1 + Math.exp(-(CALIBRATION.a * (scores[c]! + this.shift) + CALIBRATION.b)));
    return scores;
  }

  /** Bytes held by the weights and features (for the memory report). */
  get bytes(): number {
    return this.weights.byteLength + this.idf.byteLength + this.index.size * 64;
  }
}

/**
 * A document's known features, TF-IDF weighted (sublinear counts) and scaled so that all its
 * features, known or not, have length 1. The features the model never saw count in that
 * length (with the idf of the rarest): a message made mostly of words no intent has is a short
 * vector and scores low on every intent, rather than being judged on the one word it shares
 * with an intent.
 */
function vectorize(
  counts: Map<string, number>,
  index: Map<string, number>,
  idf: Float32Array,
  unknownIdf: number,
): { ids: Int32Array; values: Float64Array } {
  const ids = new Int32Array(counts.size);
  const values = new Float64Array(counts.size);
  let known = 0;
  let norm = 0;
  for (const [name, count] of counts) {
    const id = index.get(name);
    const value = (1 + Math.log(count)) * (id === undefined ? unknownIdf : idf[id]!);
    norm += value * value;
    if (id === undefined) continue;
    ids[known] = id;
    values[known++] = value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let j = 0; j < known; j++) values[j]! *= scale;
  return { ids: ids.subarray(0, known), values: values.subarray(0, known) };
}

interface Problem {
  n: number;
  k: number;
  f: number;
  offsets: Int32Array;
  ids: Int32Array;
  values: Float64Array;
  y: Int32Array;
}

/**
 * Dual coordinate descent for k one-vs-rest L2-loss SVMs at once. A full pass takes each
 * example (in a shuffled order), computes its k scores (a contiguous row per feature), and
 * updates every intent whose dual variable can move. Most pairs of an example and an intent
 * are settled early (a negative example far past the margin, its variable 0): after a full
 * pass, an example keeps as candidates only the intents that are not (its own, those it
 * supports, those near the margin), and the next PARTIAL_PASSES passes update only those,
 * each a strided dot product: about a tenth of a full pass. The full passes decide when to
 * stop (every variable within EPSILON of optimal). Returns the weights, feature-major (f
 * rows of k).
 */
function solve({ n, k, f, offsets, ids, values, y }: Problem): Float32Array {
  const w = new Float32Array(f * k);
  const alpha = new Float32Array(n * k);
  const scores = new Float64Array(k);
  const delta = new Float64Array(k);
  const changed = new Int32Array(k);
  const dii = 1 / (2 * C);
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = offsets[i]!; j < offsets[i + 1]!; j++) s += values[j]! * values[j]!;
    q[i] = s + dii;
  }
  // Per example, its candidate intents (a slice of k of `candidates`) and how many.
  const candidates = new Int32Array(n * k);
  const candidateCount = new Int32Array(n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const pgMax = new Float64Array(k);
  const pgMin = new Float64Array(k);
  let seed = 0x9e3779b9;
  const shuffle = () => {
    for (let i = n - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // The high bits: an LCG's low bits cycle with a short period.
      const j = Math.floor((seed / 2 ** 32) * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
  };
  /** One coordinate step for (example i, intent c) given its score; returns the weight change's factor. */
  const step = (i: number, c: number, score: number): number => {
    const sign = c === y[i] ? 1 : -1;
    const a = alpha[i * k + c]!;
    const g = sign * score - 1 + a * dii;
    const pg = a === 0 ? Math.min(g, 0) : g;
    if (pg > pgMax[c]!) pgMax[c] = pg;
    if (pg < pgMin[c]!) pgMin[c] = pg;
    if (pg <= 1e-12 && pg >= -1e-12) return 0;
    alpha[i * k + c] = Math.max(a - g / q[i]!, 0);
    // As stored (float32): the weights stay the sum of what the variables say.
    return (alpha[i * k + c]! - a) * sign;
  };

  for (let full = 0; full < MAX_FULL_PASSES; full++) {
    shuffle();
    pgMax.fill(-Infinity);
    pgMin.fill(Infinity);
    for (let s = 0; s < n; s++) {
      const i = order[s]!;
      const from = offsets[i]!;
      const to = offsets[i + 1]!;
      scores.fill(0);
      for (let j = from; j < to; j++) {
        const row = ids[j]! * k;
        const v = values[j]!;
        for (let c = 0; c < k; c++) scores[c]! += w[row + c]! * v;
      }
      let m = 0;
      let kept = 0;
      for (let c = 0; c < k; c++) {
        const d = step(i, c, scores[c]!);
        if (d !== 0) {
          delta[m] = d;
          changed[m++] = c;
        }
        // A candidate: its own intent, one it supports, or a negative within reach of the margin.
        if (c === y[i] || alpha[i * k + c]! > 0 || -scores[c]! - 1 < CANDIDATE_MARGIN) candidates[i * k + kept++] = c;
      }
      candidateCount[i] = kept;
      if (m === 0) continue;
      for (let j = from; j < to; j++) {
        const row = ids[j]! * k;
        const v = values[j]!;
        for (let t = 0; t < m; t++) w[row + changed[t]!]! += delta[t]! * v;
      }
    }
    let spread = 0;
    for (let c = 0; c < k; c++) spread = Math.max(spread, pgMax[c]! - pgMin[c]!);
    if (spread <= EPSILON) break;
    for (let pass = 0; pass < PARTIAL_PASSES; pass++) {
      shuffle();
      for (let s = 0; s < n; s++) {
        const i = order[s]!;
        const from = offsets[i]!;
        const to = offsets[i + 1]!;
        const count = candidateCount[i]!;
        for (let t = 0; t < count; t++) {
          const c = candidates[i * k + t]!;
          let score = 0;
          for (let j = from; j < to; j++) score += w[ids[j]! * k + c]! * values[j]!;
          const d = step(i, c, score);
          if (d !== 0) for (let j = from; j < to; j++) w[ids[j]! * k + c]! += d * values[j]!;
        }
      }
    }
  }
  return w;
}

function base64(array: Float32Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(typeof text === 'string' ? text : '', 'base64');
  if (bytes.length % 4 !== 0) throw new Error('the model is damaged: an array of floats has a partial one');
  // A copy, aligned: the Buffer may share an unaligned slab.
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
