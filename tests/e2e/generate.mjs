// Seeded generators for the differential test (differential.test.mjs): random VALID scoring
// models over every matcher kind, frequency, decay, dimension, limit and tier feature of the model
// format (src/model/types.rs, checked as src/model/validate.rs checks them), and event logs that
// exercise a given model: paths made from its patterns (and near misses), its query parameters,
// questions, forms and custom events, with time gaps from milliseconds to weeks.
//
// Everything is drawn from one PRNG, so a seed reproduces the same models and logs. Each
// generator records what it produced in a `coverage` set, so the test can prove that every event
// type and model feature was exercised.

/** A seeded PRNG (mulberry32) with the helpers the generators use. */
export function prng(seed) {
  let a = seed >>> 0;
  const float = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(float() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(float() * list.length)];
  const shuffle = (list) => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(float() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return {
    float,
    int,
    pick,
    shuffle,
    chance: (p) => float() < p,
    /** One of `[value, weight]` pairs, by weight. */
    weighted(entries) {
      let x = float() * entries.reduce((s, [, w]) => s + w, 0);
      for (const [value, w] of entries) {
        if ((x -= w) < 0) return value;
      }
      return entries[entries.length - 1][0];
    },
    sample: (list, n) => shuffle(list).slice(0, n),
  };
}

export const DAY_MS = 86_400_000;
export const DIMENSIONS = ['fit', 'engagement', 'intent', 'product'];

/** What a complete run must have produced (checked against the generators' coverage set). */
export const EXPECTED_COVERAGE = [
  ...['page', 'download', 'answer', 'form', 'event', 'visits', 'distinct_pages', 'page_views', 'time_on_site', 'return_visit']
    .map((k) => `matcher:${k}`),
  'matcher:all', 'matcher:any', 'all:state', 'all:momentary', 'any:state', 'any:momentary',
  'page:query', 'page:any-value', 'page:absent', 'page:other_than', 'download:url', 'download:extensions', 'download:both',
  'answer:equals', 'answer:one_of', 'answer:min', 'answer:max', 'answer:min-max',
  'form:id', 'form:name', 'form:id+name', 'event:properties', 'event:no-properties',
  ...['once', 'once-explicit', 'every_time', 'at_most', 'at_most_per_window'].map((f) => `frequency:${f}`),
  ...['default', 'never', 'half_life_days', 'expires_after_days'].map((d) => `decay:${d}`),
  ...DIMENSIONS.map((d) => `dimension:${d}`),
  'points:negative', 'points:zero',
  ...DIMENSIONS.concat('total').map((d) => `limits:${d}`),
  'tiers:1', 'tiers:2', 'tiers:3', 'tier:min', 'tier:max', 'tier:requires', 'tier:min-total',
  'allow_demotion:true', 'allow_demotion:false', 'allow_demotion:default', 'calibration', 'session_timeout',
  'events:page_view', 'events:page_view:query', 'events:page_view:no-query', 'events:page_view:64-params',
  'events:download', 'events:download:scheme', 'events:download:query', 'events:download:relative',
  'events:answer:text', 'events:answer:number', 'events:answer:number-text', 'events:answer:boolean',
  'events:answer:changed',
  'events:form_submit:id', 'events:form_submit:name', 'events:form_submit:id+name',
  'events:custom', 'events:custom:text', 'events:custom:number', 'events:custom:boolean', 'events:custom:64-properties',
  'events:engagement', 'events:long-text',
  'gap:same-ms', 'gap:seconds', 'gap:minutes', 'gap:new-visit', 'gap:days', 'gap:weeks', 'order:out-of-order',
];

// ---------------------------------------------------------------------------------------------
// Vocabulary shared by models and events, so that rules fire often (and nearly fire).

const SEGMENTS = ['pricing', 'docs', 'blog', 'api', 'guide', 'careers', 'resources', 'files', 'products',
  'trade', 'collections', 'help', 'returns', 'jobs', 'v2', 'a', 'b', 'c', 'über-uns', 'Team', '2026', 'x.y',
  'item-7', 'lounge', 'dining', 'mql-vs-sql'];
const PATTERNS = ['/pricing', '/pricing/*', '/docs/**', '/blog/*', '/blog/*/comments', '/', '/**', '/careers/**',
  '/resources/*.pdf', '/files/*.pdf', '/**/*.pdf', '/v?', '/a?b', '/products/**', '/trade/pricing',
  '/downloads/*-catalog.pdf', '/Docs/API', '/shop/**/item-?', '/über-uns/*', '/x/**/y/*', '/trade', '/help/returns',
  '/collections/**', '/jobs/**', '/*/*/*', '/**/docs', '/blog/', '/pricing/**/annual'];
const EXTENSIONS = ['pdf', 'PDF', 'dwg', 'step', 'zip', 'docx', 'gz', 'csv', 'Mp4', 'ä'];
const QUERY_NAMES = ['utm_source', 'utm_medium', 'utm_campaign', 'ref', 'plan', 'Lang', '2', '10', 'ä', 'q'];
const QUERY_VALUES = ['linkedin', 'google', 'newsletter', 'annual', 'monthly', 'DE', 'x y', 'Ünïcode', '1', 'LinkedIn'];
const QUESTIONS = ['role', 'company_size', 'timeline', 'budget', 'country', 'employees', 'Has-Team', ' spaced q ',
  'größe', 'q:1'];
const ANSWER_TEXTS = ['founder', 'cto', 'engineer', 'student', 'now', 'this-quarter', 'next-year', 'DE', 'AT', 'US',
  'yes', 'true', 'false', 'Ünïcode', ' padded ', '50', '1e3', '0.3', '-12.5', 'x'];
const NUMBERS = [-12.5, -1, 0, 0.1, 0.3, 0.1 + 0.2, 1, 9, 9.5, 10, 49.99, 50, 100, 1000, 5000, 12345.678, 1e21, 2 ** 53];
const FORM_NAMES = ['demo-request', 'webinar', 'contact-sales', 'fit-quiz', 'newsletter', 'Sample Request',
  'quote-request', 'ü-form', 'signup'];
const EVENT_NAMES = ['signup', 'feature_used', 'session_summary', 'cart_updated', 'reorder', 'teammate_invited',
  'Checkout Started', 'e:1', 'trade_account_opened'];
const PROP_NAMES = ['feature', 'actions', 'value_eur', 'plan', 'trial', 'is_admin', '10', '2', 'größe'];
const TIER_NAMES = ['PQL', 'SQL', 'MQL', 'Key-Account', 'Hot lead', 'Größer', 'VIP:1', 'mql', 'Tier 3', 'A'];
const DAYS = [0.01, 0.25, 0.5, 1, 1 / 3, 2.5, 7, 14, 21, 30, 45, 60, 90, 365];
const POINTS = [-30, -10, -5, -1, 0, 1, 2, 3, 5, 7, 10, 15, 20, 25, 40, 100];
const THRESHOLDS = [-10, 0, 5, 10, 15, 20, 30, 40, 60, 100];

// ---------------------------------------------------------------------------------------------
// Models

function randomPattern(r) {
  if (r.chance(0.6)) return r.pick(PATTERNS);
  const segments = [];
  for (let n = r.int(1, 4); n > 0; n--) {
    segments.push(r.weighted([
      [r.pick(SEGMENTS), 5],
      ['*', 2],
      ['**', 2],
      [r.pick(['*.pdf', 'item-?', 'v?', '*-catalog.pdf', 'a*b', '?*']), 2],
    ]));
  }
  return '/' + segments.join('/') + (r.chance(0.1) ? '/' : '');
}

/** A condition (answer or event property): exactly one of equals, one_of, or a range. */
function randomCondition(r, coverage, tag) {
  const kind = r.weighted([['equals', 3], ['one_of', 3], ['min', 1], ['max', 1], ['min-max', 2]]);
  coverage.add(`${tag}:${kind}`);
  const text = () => (r.chance(0.2) ? String(r.pick(NUMBERS)) : r.pick(ANSWER_TEXTS));
  switch (kind) {
    case 'equals':
      return { equals: text() };
    case 'one_of':
      return { one_of: Array.from({ length: r.int(1, 4) }, text) };
    case 'min':
      return { min: r.pick(NUMBERS) };
    case 'max':
      return { max: r.pick(NUMBERS) };
    default: {
      const [lo, hi] = [r.pick(NUMBERS), r.chance(0.3) ? r.float() * 1000 : r.pick(NUMBERS)].sort((x, y) => x - y);
      return { min: lo, max: hi };
    }
  }
}

function randomMatcher(r, coverage, kind) {
  coverage.add(`matcher:${kind}`);
  switch (kind) {
    case 'page': {
      const page = { path: randomPattern(r) };
      if (r.chance(0.4)) {
        coverage.add('page:query');
        page.query = {};
        for (let n = r.int(1, 2); n > 0; n--) {
          const which = r.weighted([['value', 5], ['any', 2], ['absent', 1], ['other_than', 2]]);
          let condition;
          if (which === 'any') {
            coverage.add('page:any-value');
            condition = '*';
          } else if (which === 'absent') {
            coverage.add('page:absent');
            condition = { absent: true };
          } else if (which === 'other_than') {
            coverage.add('page:other_than');
            condition = { other_than: r.sample(QUERY_VALUES, r.int(1, 2)) };
          } else {
            condition = r.pick(QUERY_VALUES);
          }
          page.query[r.pick(QUERY_NAMES)] = condition;
        }
      }
      return { page };
    }
    case 'download': {
      const which = r.weighted([['url', 3], ['extensions', 2], ['both', 1]]);
      coverage.add(`download:${which}`);
      const download = {};
      if (which !== 'extensions') download.url = randomPattern(r);
      if (which !== 'url') download.extensions = r.sample(EXTENSIONS, r.int(1, 3));
      return { download };
    }
    case 'answer':
      return { answer: { question: r.pick(QUESTIONS), ...randomCondition(r, coverage, 'answer') } };
    case 'form': {
      const which = r.weighted([['id', 4], ['name', 3], ['id+name', 2]]);
      coverage.add(`form:${which}`);
      const form = {};
      if (which !== 'name') form.id = r.pick(FORM_NAMES);
      if (which !== 'id') form.name = r.pick(FORM_NAMES);
      return { form };
    }
    case 'event': {
      const event = { name: r.pick(EVENT_NAMES) };
      if (r.chance(0.5)) {
        coverage.add('event:properties');
        event.properties = {};
        for (let n = r.int(1, 3); n > 0; n--) event.properties[r.pick(PROP_NAMES)] = randomCondition(r, coverage, 'property');
      } else {
        coverage.add('event:no-properties');
      }
      return { event };
    }
    case 'visits':
      return { visits: { at_least: r.int(1, 6) } };
    case 'distinct_pages':
      return { distinct_pages: { at_least: r.chance(0.1) ? 64 : r.int(1, 12) } };
    case 'page_views':
      return { page_views: { path: randomPattern(r), at_least: r.int(1, 10) } };
    case 'time_on_site':
      return { time_on_site: { at_least_seconds: r.pick([1, 30, 120, 300, 1000, 5000, 100000]) } };
    default:
      return { return_visit: { within_days: r.pick([0.01, 0.5, 1, 3, 7, 14, 30.5, 1 / 3]) } };
  }
}

const EVENT_MATCHERS = ['page', 'download', 'form', 'event'];
const AGGREGATES = ['visits', 'distinct_pages', 'page_views', 'time_on_site', 'return_visit'];
/** What an `all` or `any` reads from the visitor's state (no return_visit; one page_views). */
const STATE_PARTS = ['answer', 'answer', 'answer', 'visits', 'distinct_pages', 'time_on_site'];

/**
 * A compound condition: an `all` of 2-3 state-like conditions and at most one momentary one
 * (at most one page_views), or an `any` of only state-like or only momentary conditions.
 */
function randomCompound(r, coverage, kind) {
  coverage.add(`matcher:${kind}`);
  const momentary = r.chance(0.5);
  coverage.add(`${kind}:${momentary ? 'momentary' : 'state'}`);
  const parts = [];
  if (kind === 'all') {
    for (let n = r.int(momentary ? 1 : 2, 3); n > 0; n--) parts.push(randomMatcher(r, coverage, r.pick(STATE_PARTS)));
    if (r.chance(0.3)) parts.push(randomMatcher(r, coverage, 'page_views'));
    if (momentary) parts.splice(r.int(0, parts.length), 0, randomMatcher(r, coverage, r.pick(EVENT_MATCHERS)));
  } else {
    const kinds = momentary ? EVENT_MATCHERS : STATE_PARTS;
    for (let n = r.int(2, 3); n > 0; n--) parts.push(randomMatcher(r, coverage, r.pick(kinds)));
  }
  return { [kind]: parts, momentary };
}

function randomRule(r, coverage, i) {
  const kind = r.weighted([['page', 6], ['download', 3], ['answer', 4], ['form', 3], ['event', 4],
    ['all', 3], ['any', 2], ...AGGREGATES.map((k) => [k, 1])]);
  let when;
  let momentary = EVENT_MATCHERS.includes(kind);
  if (kind === 'all' || kind === 'any') {
    const c = randomCompound(r, coverage, kind);
    momentary = c.momentary;
    when = { [kind]: c[kind] };
  } else {
    when = randomMatcher(r, coverage, kind);
  }
  const rule = {
    id: `${kind}-${i}${r.pick(['', '', '.v2', ':a', '_x', '-B'])}`,
    when,
    dimension: r.pick(DIMENSIONS),
    points: r.chance(0.2) ? r.pick(POINTS.filter((p) => p < 0)) : r.pick(POINTS),
  };
  coverage.add(`dimension:${rule.dimension}`);
  if (rule.points < 0) coverage.add('points:negative');
  if (rule.points === 0) coverage.add('points:zero');
  if (r.chance(0.2)) rule.description = `rule ${i}: ${kind}`;
  if (r.chance(0.05)) rule.evidence = { leads: r.int(0, 5000), conversion_rate: r.float() };
  if (momentary) {
    const frequency = r.weighted([['once', 3], ['once-explicit', 1], ['every_time', 2], ['at_most', 2],
      ['at_most_per_window', 2]]);
    coverage.add(`frequency:${frequency}`);
    if (frequency === 'once-explicit') rule.frequency = 'once';
    else if (frequency === 'every_time') rule.frequency = 'every_time';
    else if (frequency === 'at_most') rule.frequency = { at_most: r.int(1, 6) };
    else if (frequency === 'at_most_per_window') {
      rule.frequency = { at_most_per_window: { times: r.chance(0.05) ? 100 : r.int(1, 5), days: r.pick(DAYS) } };
    }
  } else if (r.chance(0.15)) {
    // Answers and aggregates count once; saying so is allowed.
    rule.frequency = 'once';
    coverage.add('frequency:once-explicit');
  }
  const decay = r.weighted([['default', 3], ['never', 1], ['half_life_days', 3], ['expires_after_days', 3]]);
  coverage.add(`decay:${decay}`);
  if (decay === 'never') rule.decay = 'never';
  else if (decay !== 'default') rule.decay = { [decay]: r.pick(DAYS) };
  return rule;
}

function randomBounds(r) {
  const min = r.pick([-50, -20, -5, 0, 10]);
  const max = r.pick([-5, 0, 5, 20, 50, 80, 200, 12.5]);
  return r.weighted([[{ min }, 1], [{ max }, 2], [{ min: Math.min(min, max), max: Math.max(min, max) }, 2]]);
}

/** The highest score each dimension (and the total) can reach, as validate.rs computes it. */
export function reachableMax(model) {
  const dims = [0, 0, 0, 0];
  for (const rule of model.rules) {
    if (rule.points <= 0) continue;
    const kind = Object.keys(rule.when)[0];
    const f = rule.frequency ?? 'once';
    const parts = kind === 'all' || kind === 'any' ? rule.when[kind] : [rule.when];
    const countsOnce = !parts.some((p) => EVENT_MATCHERS.includes(Object.keys(p)[0]));
    let times;
    if (countsOnce || f === 'once') times = 1;
    else if (f.at_most !== undefined) times = f.at_most;
    else times = Infinity;
    dims[DIMENSIONS.indexOf(rule.dimension)] += rule.points * times;
  }
  DIMENSIONS.forEach((d, i) => {
    const max = model.limits?.[d]?.max;
    if (max !== undefined) dims[i] = Math.min(dims[i], max);
  });
  let total = dims.reduce((s, x) => s + x, 0);
  if (model.limits?.total?.max !== undefined) total = Math.min(total, model.limits.total.max);
  return { fit: dims[0], engagement: dims[1], intent: dims[2], product: dims[3], total };
}

function randomTier(r, coverage, model, name, reach) {
  const tier = { name };
  const min = {};
  const max = {};
  for (const d of [...DIMENSIONS, 'total']) {
    if (r.chance(0.35)) {
      min[d] = Math.min(r.pick(THRESHOLDS), reach[d]);
      if (d === 'total') coverage.add('tier:min-total');
    }
    if (r.chance(0.08)) max[d] = r.pick([0, 10, 30, 100, -5]);
  }
  if (r.chance(0.3)) {
    coverage.add('tier:requires');
    tier.requires = r.sample(model.rules.map((x) => x.id), r.int(1, 2));
  }
  if (Object.keys(min).length === 0 && Object.keys(max).length === 0 && !tier.requires) {
    const d = r.pick(DIMENSIONS);
    min[d] = Math.min(r.pick(THRESHOLDS), reach[d]);
  }
  if (Object.keys(min).length) {
    tier.min = min;
    coverage.add('tier:min');
  }
  if (Object.keys(max).length) {
    tier.max = max;
    coverage.add('tier:max');
  }
  return tier;
}

/** A random valid model (a plain object, ready for JSON.stringify). */
export function randomModel(r, coverage, n) {
  const model = { version: 1, id: `generated-${n}`, model_version: `2026-${String(n).padStart(4, '0')}` };
  if (r.chance(0.3)) model.$schema = '../../schema/model.schema.json';
  if (r.chance(0.3)) model.description = 'generated by tests/e2e/generate.mjs';
  if (r.chance(0.5)) {
    model.session_timeout_minutes = r.pick([0.5, 5, 12.5, 30, 45, 120, 1440]);
    coverage.add('session_timeout');
  }
  const count = r.weighted([[1, 1], [r.int(2, 5), 3], [r.int(6, 15), 6], [r.int(16, 40), 3]]);
  model.rules = Array.from({ length: count }, (_, i) => randomRule(r, coverage, i));
  if (r.chance(0.6)) {
    model.limits = {};
    for (const d of [...DIMENSIONS, 'total']) {
      if (r.chance(0.4)) {
        model.limits[d] = randomBounds(r);
        coverage.add(`limits:${d}`);
      }
    }
  }
  const reach = reachableMax(model);
  const tierCount = r.weighted([[1, 3], [2, 3], [3, 3]]);
  coverage.add(`tiers:${tierCount}`);
  model.tiers = r.sample(TIER_NAMES, tierCount).map((name) => randomTier(r, coverage, model, name, reach));
  const demotion = r.pick(['true', 'false', 'default']);
  coverage.add(`allow_demotion:${demotion}`);
  if (demotion !== 'default') model.allow_demotion = demotion === 'true';
  if (r.chance(0.35)) {
    coverage.add('calibration');
    model.calibration = { intercept: r.float() * 10 - 5, slope: r.chance(0.1) ? 0 : r.float() * 0.4 - 0.2 };
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Event logs

/** What a model's rules look for, to aim events at them. */
export function vocabulary(model) {
  const v = { patterns: [], query: {}, questions: [], forms: [], events: [], extensions: [] };
  const conditions = model.rules.flatMap((rule) => {
    const [kind, m] = Object.entries(rule.when)[0];
    return kind === 'all' || kind === 'any' ? m : [rule.when];
  });
  for (const when of conditions) {
    const [kind, m] = Object.entries(when)[0];
    if (kind === 'page' || kind === 'page_views') v.patterns.push(m.path);
    if (kind === 'page') {
      for (const [k, val] of Object.entries(m.query ?? {})) {
        const values = (v.query[k] ??= []);
        if (typeof val === 'string') values.push(val);
        else if (val.other_than) values.push(...val.other_than, 'other-value');
      }
    }
    if (kind === 'download') {
      if (m.url) v.patterns.push(m.url);
      v.extensions.push(...(m.extensions ?? []));
    }
    if (kind === 'answer') v.questions.push(m);
    if (kind === 'form') v.forms.push(...[m.id, m.name].filter(Boolean));
    if (kind === 'event') v.events.push(m);
  }
  return v;
}

/** `s` as a visitor might type it: other ASCII case, surrounding spaces. */
function variant(r, s) {
  return r.weighted([
    [s, 6],
    [s.toUpperCase(), 1],
    [s.toLowerCase(), 1],
    [` ${s} `, 1],
    [`${s}\t`, 1],
  ]);
}

function segment(r) {
  return r.weighted([
    [r.pick(SEGMENTS), 4],
    [r.int(0, 99999).toString(36), 2],
    ['é', 1],
    ['', 1],
  ]);
}

/** A path that `pattern` matches (mostly), or nearly matches. */
function instantiate(r, pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      out += Array.from({ length: r.int(0, 3) }, () => segment(r) || 'z').join('/');
      i++;
    } else if (c === '*') {
      out += r.chance(0.8) ? segment(r) : 'a/b';
    } else if (c === '?') {
      out += r.pick(['x', '1', '-', 'é', '/', '']);
    } else {
      out += c;
    }
  }
  out = r.weighted([
    [out, 10],
    [out.toUpperCase(), 1],
    [`${out}/`, 1],
    [`${out}/${segment(r)}`, 1],
    [out.slice(0, -1), 1],
  ]);
  return out.startsWith('/') ? out : `/${out}`;
}

function randomPath(r, v) {
  if (v.patterns.length && r.chance(0.65)) return instantiate(r, r.pick(v.patterns));
  if (r.chance(0.5)) return instantiate(r, r.pick(PATTERNS));
  return '/' + Array.from({ length: r.int(0, 4) }, () => segment(r)).join('/');
}

/** Numbers written as text, in the forms a form field may hold. */
function numberText(r, n) {
  return r.weighted([
    [String(n), 4],
    [` ${n} `, 1],
    [n.toExponential(), 1],
    [n >= 0 ? `+${n}` : String(n), 1],
    [n.toFixed(2), 1],
    [`${n}x`, 1],
  ]);
}

/** A value aimed at `cond` (meeting it, on its boundary, or missing it). */
function conditionValue(r, coverage, tag, cond) {
  const candidates = [];
  for (const e of [cond?.equals, ...(cond?.one_of ?? [])]) if (e !== undefined) candidates.push(e);
  const numbers = [];
  for (const n of [cond?.min, cond?.max]) {
    if (n !== undefined) numbers.push(n, n - 1, n + 0.5, n * 1.000000001 || 0);
  }
  if (cond?.min !== undefined && cond?.max !== undefined) numbers.push((cond.min + cond.max) / 2);
  for (const c of candidates) if (c.trim() !== '' && Number.isFinite(Number(c))) numbers.push(Number(c));
  const kind = r.weighted([['text', 4], ['number', 3], ['number-text', 2], ['boolean', 1]]);
  coverage.add(`${tag}:${kind}`);
  const num = () => {
    const n = numbers.length && r.chance(0.8) ? r.pick(numbers) : r.chance(0.5) ? r.pick(NUMBERS) : r.float() * 10000;
    return n === 0 ? 0 : n; // never -0 (JSON would write 0)
  };
  switch (kind) {
    case 'text':
      return variant(r, candidates.length && r.chance(0.7) ? r.pick(candidates) : r.pick(ANSWER_TEXTS));
    case 'number':
      return num();
    case 'number-text':
      return numberText(r, num());
    default:
      return r.chance(0.5);
  }
}

function randomEvent(r, coverage, v, visitor) {
  const type = r.weighted([['page_view', 35], ['download', 10], ['answer', 13], ['form_submit', 8], ['custom', 15],
    ['engagement', 19]]);
  switch (type) {
    case 'page_view': {
      coverage.add('events:page_view');
      const event = { type, path: randomPath(r, v) };
      if (r.chance(0.01)) {
        coverage.add('events:page_view:64-params');
        event.query = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`p${i}`, String(i)]));
        event.query[r.pick(Object.keys(v.query).concat('utm_source'))] = 'linkedin';
      } else if (r.chance(0.5)) {
        coverage.add('events:page_view:query');
        event.query = {};
        const names = Object.keys(v.query);
        for (let n = r.int(1, 4); n > 0; n--) {
          const name = names.length && r.chance(0.7) ? r.pick(names) : r.pick(QUERY_NAMES);
          const values = v.query[name] ?? [];
          event.query[name] = values.length && r.chance(0.6) && values[0] !== '*'
            ? variant(r, r.pick(values)).trim()
            : r.pick([...QUERY_VALUES, '', '*', 'other']);
        }
      } else {
        coverage.add('events:page_view:no-query');
      }
      return event;
    }
    case 'download': {
      coverage.add('events:download');
      let url = randomPath(r, v);
      if (v.extensions.length && r.chance(0.4)) {
        url = url.replace(/\/?$/, `/${r.pick(['guide', 'x', '', 'a.b'])}.${variant(r, r.pick(v.extensions)).trim()}`);
      }
      if (r.chance(0.4)) {
        coverage.add('events:download:scheme');
        url = r.pick(['https://cdn.example.com', 'http://a.b:8080', 'ftp://files.example', 'https://example.com']) +
          (r.chance(0.1) ? '' : url);
      } else if (r.chance(0.1)) {
        coverage.add('events:download:relative');
        url = url.slice(1) || 'file.pdf';
      }
      if (r.chance(0.2)) {
        coverage.add('events:download:query');
        url += r.pick(['?x=1', '?a=1&b=/c.pdf', '#page=2', '?v=2#top']);
      }
      return { type, url };
    }
    case 'answer': {
      const cond = v.questions.length && r.chance(0.8) ? r.pick(v.questions) : { question: r.pick(QUESTIONS) };
      const question = variant(r, cond.question);
      const key = cond.question.trim().toLowerCase();
      if (visitor.answered.has(key)) coverage.add('events:answer:changed');
      visitor.answered.add(key);
      return { type, question, value: conditionValue(r, coverage, 'events:answer', cond) };
    }
    case 'form_submit': {
      const name = () => variant(r, v.forms.length && r.chance(0.8) ? r.pick(v.forms) : r.pick(FORM_NAMES));
      const which = r.weighted([['id', 4], ['name', 3], ['id+name', 2]]);
      coverage.add(`events:form_submit:${which}`);
      const event = { type };
      if (which !== 'name') event.id = name();
      if (which !== 'id') event.name = name();
      if (which === 'id+name' && r.chance(0.2)) event.id = ''; // an empty id next to a name is still a submission
      return event;
    }
    case 'custom': {
      coverage.add('events:custom');
      const target = v.events.length && r.chance(0.8) ? r.pick(v.events) : { name: r.pick(EVENT_NAMES) };
      const event = { type, name: variant(r, target.name) };
      if (r.chance(0.01)) {
        coverage.add('events:custom:64-properties');
        event.properties = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`p${i}`, i % 3 ? i : `v${i}`]));
      } else if (r.chance(0.75)) {
        event.properties = {};
        const conds = Object.entries(target.properties ?? {});
        for (let n = r.int(0, 4); n > 0; n--) {
          const [prop, cond] = conds.length && r.chance(0.75) ? r.pick(conds) : [r.pick(PROP_NAMES), undefined];
          event.properties[prop] = conditionValue(r, coverage, 'events:custom', cond);
        }
      }
      return event;
    }
    default:
      coverage.add('events:engagement');
      return { type, seconds: r.pick([0, 1, 5, 15.5, 30, 60, 300, 3600, 86400, r.float() * 600, r.float() * 7200]) };
  }
}

/** A long text of about `bytes` UTF-8 bytes (under the engine's 2048). */
function longText(r, bytes) {
  const unit = r.pick(['abcdefgh', 'ü-é-ö', '€uro', 'x']);
  let s = '';
  while (Buffer.byteLength(s + unit) < bytes) s += unit;
  return s;
}

const GAPS = [
  ['gap:same-ms', 0, 0, 3],
  ['gap:seconds', 1, 60_000, 30],
  ['gap:minutes', 60_000, 30 * 60_000, 25],
  ['gap:new-visit', 30 * 60_000, 3 * 3600_000, 12],
  ['gap:days', 3 * 3600_000, 10 * DAY_MS, 20],
  ['gap:weeks', 10 * DAY_MS, 35 * DAY_MS, 6],
];

/**
 * The events of one visitor, in the order they happened: `[{ts, event}]` (ts in ms since the
 * epoch, never decreasing).
 */
export function visitorEvents(r, coverage, v, start) {
  const visitor = { answered: new Set() };
  const count = r.weighted([[r.int(1, 3), 2], [r.int(4, 20), 5], [r.int(21, 60), 3]]);
  const out = [];
  let ts = start;
  for (let i = 0; i < count; i++) {
    if (i > 0) {
      const [tag, lo, hi] = r.weighted(GAPS.map((g) => [g, g[3]]));
      coverage.add(tag);
      ts += r.int(lo, hi);
    }
    const event = randomEvent(r, coverage, v, visitor);
    if (r.chance(0.005)) {
      coverage.add('events:long-text');
      const long = longText(r, r.int(1500, 2040));
      if (event.type === 'page_view') event.path = `/${long}`;
      else if (event.type === 'download') event.url = long;
      else if (event.type === 'answer') event.value = long;
      else if (event.type === 'custom' && Object.keys(event.properties ?? {}).length < 64) {
        event.properties = { ...event.properties, note: long };
      }
    }
    out.push({ ts, event });
  }
  return out;
}

/**
 * Log lines for many visitors: each visitor's events, its lines interleaved with the others',
 * and some lines moved before earlier ones (the CLI, like the test, sorts each visitor's events
 * by time, keeping the log order for equal times).
 */
export function logLines(r, coverage, visitors) {
  const queues = visitors.map(({ name, events }) => {
    const lines = events.map(({ ts, event }) => ({ visitor: name, ts, ...event }));
    if (lines.length > 1 && r.chance(0.2)) {
      for (let k = r.int(1, 3); k > 0; k--) {
        const i = r.int(0, lines.length - 2);
        if (lines[i].ts !== lines[i + 1].ts) coverage.add('order:out-of-order');
        [lines[i], lines[i + 1]] = [lines[i + 1], lines[i]];
      }
    }
    return lines;
  });
  const out = [];
  while (queues.some((q) => q.length)) {
    const live = queues.filter((q) => q.length);
    out.push(r.pick(live).shift());
  }
  return out;
}
