/**
 * Injected anomalies: texts that are not product reviews, of six kinds, built from a seed so that every
 * run (and every test) sees the same set. Each anomaly keeps the non-text fields of a real review (rating,
 * votes, category...) and gets its own text and no title, so only the text can give it away.
 *
 * Run it: `npx tsx trainer/anomalies.ts --data data/sample/reviews-sample.jsonl [--per-kind 100] [--seed 7]
 * [--out FILE.jsonl]` writes the anomalies (with a `kind` field) as JSONL, and prints how many of each kind.
 *
 * The foreign-language texts are short sentences written for this file (German, Spanish, French, Italian,
 * Portuguese, Dutch, Polish, Turkish, Russian, Chinese, Japanese): no download, no copyright.
 */
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { type Random, seededRandom } from '../core/model/prng.js';
import { type LabeledReview, loadLabeledJsonl } from './data.js';

export const INJECTED_KINDS = ['gibberish', 'code', 'spam', 'foreign', 'repeated', 'symbols'] as const;
export type InjectedKind = (typeof INJECTED_KINDS)[number];

export interface InjectedAnomaly extends LabeledReview {
  kind: InjectedKind;
}

function pick<T>(list: readonly T[], random: Random): T {
  return list[Math.floor(random() * list.length)]!;
}

function between(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

function repeat<T>(count: number, make: () => T): T[] {
  return Array.from({ length: count }, make);
}

// ---------------------------------------------------------------------------------------------
// Random-letter gibberish: uniform letters, keyboard mashing, and pronounceable nonsense syllables.

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'asdfjkl;', 'jkljkl', 'hjkl'];
const SYLLABLES = ['ka', 'zu', 'mo', 'rex', 'tib', 'qua', 'vlo', 'gry', 'nop', 'fex', 'dro', 'wib', 'sna', 'plo', 'xi', 'jor'];

function gibberishWord(random: Random, style: number): string {
  const length = between(random, 2, 11);
  let word = '';
  if (style === 0) for (let i = 0; i < length; i++) word += LETTERS[Math.floor(random() * 26)];
  else if (style === 1) {
    const row = pick(KEYBOARD_ROWS, random);
    for (let i = 0; i < length; i++) word += row[Math.floor(random() * row.length)];
  } else for (let i = 0; i < Math.ceil(length / 3); i++) word += pick(SYLLABLES, random);
  return random() < 0.1 ? word[0]!.toUpperCase() + word.slice(1) : word;
}

function gibberish(random: Random): string {
  const style = Math.floor(random() * 3);
  return repeat(between(random, 4, 80), () => gibberishWord(random, style)).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Code and markup: snippets of JavaScript, Python, SQL, HTML, JSON, CSS and shell with random names.

const IDENTIFIERS = ['data', 'item', 'result', 'userId', 'config', 'value', 'count', 'buffer', 'node', 'index', 'payload', 'handler', 'row', 'tmp'];

function codeLine(random: Random): string {
  const a = pick(IDENTIFIERS, random);
  const b = pick(IDENTIFIERS, random);
  const n = between(random, 0, 999);
  return pick(
    [
      `const ${a} = ${b}.map((x) => x * ${n});`,
      `function ${a}(${b}) { return ${b} + ${n}; }`,
      `if (${a} === null) { throw new Error('${b} missing'); }`,
      `for (let i = 0; i < ${a}.length; i++) { ${b}[i] = ${a}[i] >> 1; }`,
      `def ${a}(${b}):\n    return [x for x in ${b} if x > ${n}]`,
      `import ${a}.${b} as ${b}_mod`,
      `SELECT ${a}, COUNT(*) FROM ${b} WHERE id > ${n} GROUP BY ${a};`,
      `<div class="${a}"><span id="${b}">${n}</span></div>`,
      `<a href="/${a}/${b}?id=${n}">${a}</a><br/>`,
      `{"${a}": ${n}, "${b}": [${n}, ${n + 1}], "ok": true}`,
      `.${a} { margin: ${n}px; color: #${n.toString(16).padStart(3, '0')}; }`,
      `$ grep -rn "${a}" ./${b} | wc -l && echo $?`,
      `${a}->${b}[${n}] = malloc(sizeof(int) * ${n});`,
      `<?php echo $${a}['${b}']; ?>`,
    ],
    random,
  );
}

function code(random: Random): string {
  return repeat(between(random, 2, 12), () => codeLine(random)).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Spam: promotions with URLs, phone numbers and e-mail addresses.

const SPAM_PHRASES = [
  'BUY NOW and save 80%',
  'limited offer, only today',
  'click the link for your FREE gift card',
  'cheap replica watches and bags',
  'earn $500 a day from home',
  'WhatsApp us for wholesale prices',
  'best deals on pills, no prescription',
  'visit our store for discount codes',
  'call now, operators are waiting',
  'you have WON a prize, claim it here',
];
const DOMAINS = ['best-deals4u.biz', 'cheap-outlet.ru', 'freegiftz.top', 'bit.ly/3xQz9', 'promo-center.cn', 'win-big.info'];

function phone(random: Random): string {
  const d = (k: number) => repeat(k, () => between(random, 0, 9)).join('');
  return pick([`1-800-${d(3)}-${d(4)}`, `+44 ${d(4)} ${d(6)}`, `(${d(3)}) ${d(3)}-${d(4)}`, `+86 ${d(3)} ${d(4)} ${d(4)}`], random);
}

function spamPart(random: Random): string {
  const domain = pick(DOMAINS, random);
  return pick(
    [
      pick(SPAM_PHRASES, random),
      `http://www.${domain}/${pick(IDENTIFIERS, random)}?ref=${between(random, 100, 99999)}`,
      `https://${domain}`,
      `www.${domain}`,
      `call ${phone(random)}`,
      phone(random),
      `mail sales${between(random, 1, 99)}@${domain}`,
    ],
    random,
  );
}

/** Promotional parts, always with at least one link and one phone number. */
function spam(random: Random): string {
  const parts = repeat(between(random, 1, 12), () => spamPart(random));
  parts.splice(Math.floor(random() * (parts.length + 1)), 0, `https://${pick(DOMAINS, random)}`);
  parts.splice(Math.floor(random() * (parts.length + 1)), 0, phone(random));
  return parts.join(random() < 0.5 ? ' ' : ' !!! ');
}

// ---------------------------------------------------------------------------------------------
// Foreign-language text: reviews of everyday products written here in eleven languages.

export const FOREIGN_SENTENCES: Record<string, string[]> = {
  de: [
    'Das Produkt ist gut verarbeitet, aber die Lieferung hat zwei Wochen gedauert.',
    'Ich bin sehr zufrieden und würde es jederzeit wieder kaufen.',
    'Leider ist das Gerät nach drei Tagen kaputt gegangen.',
    'Der Kundendienst hat nie auf meine Nachricht geantwortet.',
    'Für diesen Preis kann man nicht meckern.',
  ],
  es: [
    'El producto llegó a tiempo y funciona perfectamente.',
    'La calidad es bastante mala para el precio que pagué.',
    'Mi hija lo usa todos los días y está encantada.',
    'No lo recomiendo, se rompió después de una semana.',
    'El envío fue rápido pero la caja venía abierta.',
  ],
  fr: [
    'Le produit est conforme à la description, je suis ravie.',
    'La livraison était très lente et le colis était abîmé.',
    'Après deux semaines, la batterie ne tient plus la charge.',
    'Je ne recommande pas ce vendeur, aucune réponse du service client.',
    'Rapport qualité prix excellent, merci beaucoup.',
  ],
  it: [
    'Il prodotto è arrivato in perfette condizioni e funziona bene.',
    'Purtroppo la qualità dei materiali è scadente.',
    'Lo consiglio a tutti, ottimo acquisto.',
    'Dopo un mese si è rotto e non ho ricevuto il rimborso.',
  ],
  pt: [
    'O produto chegou rápido e é exatamente como na foto.',
    'Não gostei, o tamanho é muito pequeno e a cor é diferente.',
    'Recomendo, vale cada centavo.',
    'A entrega atrasou e ninguém respondeu minhas mensagens.',
  ],
  nl: [
    'Het product werkt prima en was snel geleverd.',
    'Helaas was de verpakking beschadigd en ontbrak er een onderdeel.',
    'Ik ben er heel blij mee, echt een aanrader.',
    'De kwaliteit valt tegen voor deze prijs.',
  ],
  pl: [
    'Produkt jest bardzo dobry, polecam wszystkim.',
    'Przesyłka przyszła uszkodzona i sprzedawca nie odpowiada.',
    'Jakość wykonania jest słaba, szkoda pieniędzy.',
    'Używam codziennie i jestem zadowolony.',
  ],
  tr: [
    'Ürün çok güzel, kargo da hızlı geldi.',
    'Kalitesi beklediğimden çok daha kötü çıktı.',
    'Herkese tavsiye ederim, fiyatına göre harika.',
    'İki gün sonra bozuldu, param boşa gitti.',
  ],
  ru: [
    'Товар пришёл быстро, всё работает отлично.',
    'Качество ужасное, через неделю сломалось.',
    'Рекомендую, очень доволен покупкой.',
    'Продавец не отвечает на сообщения, деньги не вернули.',
  ],
  zh: ['这个产品质量很好，物流也很快。', '用了三天就坏了，非常失望。', '客服态度很差，不推荐购买。', '价格便宜，性价比很高，值得购买。'],
  ja: ['商品はとても良くて、毎日使っています。', '配送が遅くて箱も壊れていました。', '値段の割に品質が悪いです。', 'また買いたいと思います、おすすめです。'],
};

function foreign(random: Random): string {
  const sentences = FOREIGN_SENTENCES[pick(Object.keys(FOREIGN_SENTENCES), random)]!;
  return repeat(between(random, 1, 5), () => pick(sentences, random)).join(' ');
}

// ---------------------------------------------------------------------------------------------
// One phrase repeated: a short (English, review-like) phrase copied many times.

const REPEATED_PHRASES = ['great product', 'love it', 'five stars', 'do not buy', 'good', 'best ever', 'ok ok', 'works great', 'terrible terrible', 'A+++', 'thank you seller', 'nice'];

function repeated(random: Random): string {
  const phrase = pick(REPEATED_PHRASES, random);
  const separator = pick([' ', ', ', '! ', '. ', '\n'], random);
  return repeat(between(random, 6, 60), () => phrase).join(separator);
}

// ---------------------------------------------------------------------------------------------
// Symbol runs: rows of punctuation, emoticons and box drawing, sometimes around a single word.

const SYMBOLS = ['!', '?', '*', '#', '$', '%', '&', '@', '~', '^', '+', '=', '-', '_', '.', '/', '|', '<', '>', '★', '☆', '♥', '☺', '█', '…', '😀', '👍'];

function symbolRun(random: Random): string {
  const symbol = pick(SYMBOLS, random);
  return random() < 0.5 ? symbol.repeat(between(random, 3, 30)) : repeat(between(random, 3, 30), () => pick(SYMBOLS, random)).join('');
}

function symbols(random: Random): string {
  const parts = repeat(between(random, 1, 10), () => symbolRun(random));
  if (random() < 0.3) parts.splice(Math.floor(random() * parts.length), 0, pick(['wow', 'ok', 'lol', 'hmm', 'yes'], random));
  return parts.join(pick([' ', '', '\n'], random));
}

const BUILDERS: Record<InjectedKind, (random: Random) => string> = { gibberish, code, spam, foreign, repeated, symbols };

/** One anomaly of the kind, wearing the non-text fields of `base`. */
export function injectAnomaly(kind: InjectedKind, base: LabeledReview, random: Random, index: number): InjectedAnomaly {
  return { ...base, review_id: `injected-${kind}-${index}`, text: BUILDERS[kind](random), title: null, kind };
}

export interface InjectedSetOptions {
  perKind?: number;
  seed?: number;
  kinds?: readonly InjectedKind[];
}

/** perKind anomalies of every kind (bases drawn from `real`, seeded): the same inputs give the same set. */
export function buildInjectedSet(real: readonly LabeledReview[], options: InjectedSetOptions = {}): InjectedAnomaly[] {
  if (real.length === 0) return [];
  const random = seededRandom(options.seed ?? 7);
  const out: InjectedAnomaly[] = [];
  for (const kind of options.kinds ?? INJECTED_KINDS) {
    for (let i = 0; i < (options.perKind ?? 100); i++) out.push(injectAnomaly(kind, pick(real, random), random, out.length));
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const data = flag('--data');
  if (!data) throw new Error('usage: npx tsx trainer/anomalies.ts --data FILE.jsonl [--per-kind N] [--seed S] [--out FILE.jsonl]');
  const { rows } = await loadLabeledJsonl(data.split(','));
  const set = buildInjectedSet(rows, { perKind: Number(flag('--per-kind') ?? 100), seed: Number(flag('--seed') ?? 7) });
  const out = flag('--out');
  if (out) await writeFile(out, set.map((a) => JSON.stringify(a)).join('\n') + '\n');
  const counts = Object.fromEntries(INJECTED_KINDS.map((k) => [k, set.filter((a) => a.kind === k).length]));
  process.stdout.write(`${JSON.stringify({ anomalies: set.length, perKind: counts, out: out ?? null })}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
