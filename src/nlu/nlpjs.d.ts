// The few parts of NLP.js (which ships no types) that botver uses.
declare module '@nlpjs/core' {
  export interface Container {
    use(plugin: unknown): void;
  }
  export function containerBootstrap(): Promise<Container>;
}
declare module '@nlpjs/lang-en-min' {
  export const LangEn: unknown;
  export class StemmerEn {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-fr' {
  export const LangFr: unknown;
  export class StemmerFr {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-es' {
  export const LangEs: unknown;
  export class StemmerEs {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-de' {
  export const LangDe: unknown;
  export class StemmerDe {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-it' {
  export const LangIt: unknown;
  export class StemmerIt {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-pt' {
  export const LangPt: unknown;
  export class StemmerPt {
    stem(word: string): string;
  }
}
declare module '@nlpjs/lang-nl' {
  export const LangNl: unknown;
  export class StemmerNl {
    stem(word: string): string;
  }
}
declare module '@nlpjs/sentiment' {
  export class SentimentAnalyzer {
    constructor(settings: { container: unknown });
    process(input: { locale: string; text: string }): Promise<{ sentiment?: { score?: number } }>;
  }
}
