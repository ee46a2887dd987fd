// The benchmark's visitors and events, generated from a seed (the same on every run, in Node and in
// the browser): a realistic mix for the 30-rule model in model.json — mostly page views, then
// engagement time, answers, product events, downloads and forms — with the variations the engine
// has to get right (case, spaces, trailing slashes, numbers given as text, full URLs with a query,
// paths that almost match) and a few invalid events that every variant must reject.
//
// Events have the event-log shape `leadscore score` reads and `www/shim/event.js` encodes.

const DAY = 86_400_000;
const MINUTE = 60_000;
/** First event of the first visitor: 2026-11-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 10, 1);

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (rnd, list) => list[Math.floor(rnd() * list.length)];

/** One event, drawn from the mix. */
function event(rnd) {
  const r = rnd();
  if (r < 0.55) return pageView(rnd);
  if (r < 0.67) return { type: 'engagement', seconds: Math.round(rnd() * 1200) / 10 };
  if (r < 0.77) return answer(rnd);
  if (r < 0.87) return custom(rnd);
  if (r < 0.93) return { type: 'download', url: pick(rnd, DOWNLOADS) };
  if (r < 0.995) return pick(rnd, FORMS);
  return pick(rnd, INVALID);
}

function pageView(rnd) {
  const r = rnd();
  let path;
  if (r < 0.15) path = pick(rnd, ['/', '/about', '/quiz', '/demo', '/resources', '/customers']);
  else if (r < 0.33) path = pick(rnd, ['/pricing', '/pricing/', '/Pricing', '/pricing/enterprise']);
  else if (r < 0.53) path = `/blog/post-${Math.floor(rnd() * 40)}` + (rnd() < 0.1 ? '/comments' : '');
  else if (r < 0.70) path = pick(rnd, ['/docs', '/docs/getting-started/install', `/docs/api/${Math.floor(rnd() * 30)}`, '/documents']);
  else if (r < 0.77) path = pick(rnd, ['/careers', '/careers/open-roles', '/careers/engineering/backend']);
  else path = `/features/${Math.floor(rnd() * 6)}` + (rnd() < 0.85 ? `/${pick(rnd, ['reports', 'automation', 'api', 'Sso'])}` : '');
  const query = {};
  if (rnd() < 0.3) query.utm_source = pick(rnd, ['linkedin', 'LinkedIn', 'google', 'newsletter']);
  if (rnd() < 0.1) query.utm_campaign = pick(rnd, ['q4', 'launch']);
  return { type: 'page_view', path, query };
}

function answer(rnd) {
  const r = rnd();
  if (r < 0.45) {
    return { type: 'answer', question: pick(rnd, ['role', 'role', ' Role ']),
      value: pick(rnd, ['founder', 'CTO', ' cto ', 'vp-engineering', 'director', 'engineer', 'marketer', 'analyst', 'student', 'other']) };
  }
  if (r < 0.75) {
    return { type: 'answer', question: 'company_size',
      value: pick(rnd, ['250', 250, '5', 5, '9', 20000, '1e3', ' 50 ', 'n/a', '5000', 4999.5, true]) };
  }
  return { type: 'answer', question: 'timeline', value: pick(rnd, ['now', 'this-quarter', 'THIS-QUARTER', 'next-year', 'never']) };
}

function custom(rnd) {
  const r = rnd();
  if (r < 0.1) return { type: 'custom', name: 'signup', properties: {} };
  if (r < 0.2) return { type: 'custom', name: 'teammate_invited', properties: { role: 'admin' } };
  if (r < 0.7) {
    return { type: 'custom', name: pick(rnd, ['feature_used', 'feature_used', 'Feature_Used']),
      properties: { feature: pick(rnd, ['report', 'integration', 'automation', 'export', ' Report ']) } };
  }
  return { type: 'custom', name: 'session_summary',
    properties: { actions: rnd() < 0.8 ? Math.floor(rnd() * 120) : String(Math.floor(rnd() * 120)) } };
}

const DOWNLOADS = [
  '/resources/roi-calculator.pdf',
  '/resources/buyers-guide.PDF',
  'https://cdn.acme.example/resources/guide.pdf?utm_source=x#page=2',
  '/resources/archive/2019/report.pdf',
  '/files/brochure.zip',
];

const FORMS = [
  { type: 'form_submit', id: 'fit-quiz' },
  { type: 'form_submit', id: 'webinar' },
  { type: 'form_submit', name: 'newsletter' },
  { type: 'form_submit', id: 'footer', name: 'Newsletter' },
  { type: 'form_submit', id: 'demo-request' },
  { type: 'form_submit', id: ' Demo-Request ' },
  { type: 'form_submit', id: 'contact-sales' },
  { type: 'form_submit', id: 'search' },
];

/** Events every variant must reject (the engine's `Event::validate`). */
const INVALID = [
  { type: 'page_view', path: 'pricing', query: {} },
  { type: 'engagement', seconds: 100_000 },
  { type: 'answer', question: '  ', value: 'cto' },
  { type: 'form_submit' },
];

/** The time to the next event: mostly within a visit, sometimes hours or weeks later. */
function gap(rnd) {
  const r = rnd();
  if (r < 0.72) return 5_000 + Math.floor(rnd() * 10 * MINUTE);
  if (r < 0.92) return 31 * MINUTE + Math.floor(rnd() * 2 * DAY);
  return 2 * DAY + Math.floor(rnd() * 38 * DAY);
}

/**
 * `events` events from `visitors` visitors: `[{id, events: [{t, event}]}]`, each visitor's events
 * in time order (ms since the epoch). Every visitor has at least one event; the rest are spread
 * unevenly (a few visitors do much more than most).
 */
export function generate({ visitors = 1000, events = 10_000, seed = 20261201 } = {}) {
  const rnd = prng(seed);
  const counts = new Array(visitors).fill(1);
  for (let i = visitors; i < events; i++) {
    // Skewed towards low indices: visitor i gets roughly 1 / (i + 30) of the events.
    const v = Math.min(visitors - 1, Math.floor(visitors * rnd() ** 1.6));
    counts[v]++;
  }
  return counts.map((n, v) => {
    let t = T0 + Math.floor(rnd() * 60 * DAY);
    const list = [];
    for (let i = 0; i < n; i++) {
      if (i > 0) t += gap(rnd);
      list.push({ t, event: event(rnd) });
    }
    return { id: `v${v}`, events: list };
  });
}

/** One visitor's `n` events (the state-size and memory measurement). */
export function oneVisitor(n, seed = 7) {
  return generate({ visitors: 1, events: n, seed })[0];
}
