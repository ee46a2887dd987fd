// Variant (b): a plain JavaScript interpreter of the model JSON, written for the benchmark as the
// reference a team might write by hand. It follows the engine's semantics for everything the
// benchmark model uses (src/engine/mod.rs, score.rs, state.rs; ARCHITECTURE.md "Engine
// semantics"), so that its tiers and scores equal the kernel's exactly:
//   - decay is computed as the engine computes it (`half_life_factor`: 2^-whole × exp(-fraction·ln 2),
//     the power of two exact, exp ported from Rust's libm: see `libmExp`), and a half-life rule
//     keeps its decayed sum in the form the kernel's state format keeps it (see `prepare`), so
//     the floats agree bit for bit;
//   - the per-dimension sums are added in rule order, clamped, then totalled, as `score` does;
//   - the tier is evaluated after every event, as `apply` does.
// Text comparisons use toLowerCase (the engine ignores ASCII case only; the benchmark's text is
// ASCII). Its state is plain objects; it is not serialised.
//
// The state-keeping half (visit bookkeeping, frequency, decay, score, tiers) is exported for the
// json-rules-engine variant, which does the matching with json-rules-engine instead.

const DAY_MS = 86_400_000;
const MAX_DISTINCT_PAGES = 64;
const MAX_FIRINGS_KEPT = 32;
const MAX_TEXT = 2048;
const DIMENSIONS = ['fit', 'engagement', 'intent', 'product'];
const AGGREGATES = ['visits', 'distinct_pages', 'page_views', 'time_on_site', 'return_visit'];

/**
 * The model JSON, prepared once for scoring (what `leadscore build` + load do for the kernel).
 *
 * `stateFormat` is the kernel's state format (the first byte of `state()`), which decides how a
 * half-life rule keeps its decayed sum: format 1 keeps it in points (`held = held·f + points`,
 * points now `held·f`), format 2 in firings (`held = held·f + 1`, points now `points·(held·f)`).
 * The two round differently, so the reference follows the kernel it is compared with.
 */
export function prepare(json, { stateFormat = 2 } = {}) {
  const rules = json.rules.map((r, index) => {
    const kind = Object.keys(r.when)[0];
    const when = r.when[kind];
    const freq = r.frequency ?? 'once';
    const decay = r.decay ?? 'never';
    const rule = {
      index,
      id: r.id,
      kind,
      dim: DIMENSIONS.indexOf(r.dimension),
      points: r.points,
      // frequency: 0 once, 1 every time, 2 at most n, 3 at most n per window of ms
      freq: freq === 'once' ? 0 : freq === 'every_time' ? 1 : freq.at_most != null ? 2 : 3,
      atMost: freq.at_most ?? 0,
      windowTimes: freq.at_most_per_window?.times ?? 0,
      windowMs: Math.trunc((freq.at_most_per_window?.days ?? 0) * DAY_MS),
      halfLifeDays: decay.half_life_days ?? 0,
      expiresMs: decay.expires_after_days != null ? Math.trunc(decay.expires_after_days * DAY_MS) : 0,
      aggregate: AGGREGATES.includes(kind),
      heldStep: stateFormat === 1 ? r.points : 1, // what one firing adds to `held`
      heldInPoints: stateFormat === 1,
    };
    if (when.path != null) rule.pattern = compilePattern(when.path);
    if (kind === 'page') rule.query = Object.entries(when.query ?? {}).map(([k, v]) => [k, v.toLowerCase()]);
    if (kind === 'download') {
      rule.pattern = when.url != null ? compilePattern(when.url) : null;
      rule.extensions = (when.extensions ?? []).map((e) => e.toLowerCase());
    }
    if (kind === 'answer') {
      rule.question = when.question.toLowerCase();
      rule.condition = compileCondition(when);
    }
    if (kind === 'form') {
      rule.formId = when.id?.toLowerCase() ?? null;
      rule.formName = when.name?.toLowerCase() ?? null;
    }
    if (kind === 'event') {
      rule.name = when.name.toLowerCase();
      rule.properties = Object.entries(when.properties ?? {}).map(([k, c]) => [k, compileCondition(c)]);
    }
    if (kind === 'visits' || kind === 'distinct_pages' || kind === 'page_views') rule.atLeast = when.at_least;
    if (kind === 'time_on_site') rule.atLeast = when.at_least_seconds;
    if (kind === 'return_visit') rule.withinMs = when.within_days * DAY_MS;
    return rule;
  });
  const byKind = {};
  for (const r of rules) (byKind[r.aggregate ? 'aggregate' : r.kind] ??= []).push(r);
  const limits = json.limits ?? {};
  const bounds = (b) => (b ? [b.min ?? -Infinity, b.max ?? Infinity] : null);
  const thresholds = (t = {}) => [...DIMENSIONS, 'total'].map((d) => t[d] ?? null);
  return {
    rules,
    page: byKind.page ?? [],
    download: byKind.download ?? [],
    answer: byKind.answer ?? [],
    form: byKind.form ?? [],
    event: byKind.event ?? [],
    aggregate: byKind.aggregate ?? [],
    limits: DIMENSIONS.map((d) => bounds(limits[d])),
    totalLimits: bounds(limits.total),
    tiers: json.tiers.map((t) => ({
      name: t.name,
      min: thresholds(t.min),
      max: thresholds(t.max),
      requires: (t.requires ?? []).map((id) => rules.findIndex((r) => r.id === id)),
    })),
    allowDemotion: json.allow_demotion ?? true,
    sessionMs: Math.trunc((json.session_timeout_minutes ?? 30) * 60_000),
  };
}

/** A fresh visitor state. */
export function newState(model) {
  return {
    lastSeen: null,
    clock: null,
    visits: 0,
    seconds: 0,
    pages: [],
    tier: 0, // 0 unqualified, i + 1 the model's tier i (the engine's stored tier)
    rules: model.rules.map(() => ({ count: 0, progress: 0, window: [], held: 0, heldAt: 0, firings: [] })),
    // what the last event meant for its visit (record_visit)
    newVisit: false,
    gap: null,
  };
}

/** Scores one event: `tier + 256 * previous_tier` as the kernel's `apply` answers, or -1 (rejected). */
export function apply(model, state, event, now) {
  if (!valid(event)) return -1;
  now = recordVisit(model, state, event, now);
  switch (event.type) {
    case 'page_view': {
      for (const r of model.page) {
        if (queryHolds(r.query, event.query) && r.pattern(event.path)) fire(r, state, now);
      }
      break;
    }
    case 'download': {
      const path = urlPath(event.url);
      const ext = extension(path)?.toLowerCase();
      for (const r of model.download) {
        if ((r.pattern && r.pattern(path)) || (ext != null && r.extensions.includes(ext))) fire(r, state, now);
      }
      break;
    }
    case 'answer': {
      const question = event.question.trim().toLowerCase();
      for (const r of model.answer) {
        if (r.question === question) answerRule(r, state, r.condition(event.value), now);
      }
      break;
    }
    case 'form_submit': {
      const id = event.id?.trim().toLowerCase();
      const name = event.name?.trim().toLowerCase();
      for (const r of model.form) {
        if ((r.formId != null && r.formId === id) || (r.formName != null && r.formName === name)) fire(r, state, now);
      }
      break;
    }
    case 'custom': {
      const name = event.name.trim().toLowerCase();
      const props = event.properties ?? {};
      for (const r of model.event) {
        if (r.name === name && r.properties.every(([k, c]) => Object.hasOwn(props, k) && c(props[k]))) fire(r, state, now);
      }
      break;
    }
    default: // engagement: counted by recordVisit
  }
  aggregates(model, state, event, now, (r) => r.pattern(event.path));
  return scoreAndStoreTier(model, state, now).code;
}

// ---- state keeping, shared with the json-rules-engine variant ----

/** The checks of the engine's `Event::validate` that the benchmark's events can fail. */
export function valid(e) {
  const text = (s) => typeof s === 'string' && s.trim() !== '' && s.length <= MAX_TEXT;
  switch (e.type) {
    case 'page_view': return text(e.path) && e.path.startsWith('/') && Object.keys(e.query ?? {}).length <= 64;
    case 'download': return text(e.url);
    case 'answer': return text(e.question) && (typeof e.value !== 'number' || Number.isFinite(e.value));
    case 'form_submit': return (e.id != null && e.id.trim() !== '') || (e.name != null && e.name.trim() !== '');
    case 'custom': return text(e.name) && Object.keys(e.properties ?? {}).length <= 64;
    case 'engagement': return Number.isFinite(e.seconds) && e.seconds >= 0 && e.seconds <= 86_400;
    default: return false;
  }
}

/**
 * The engine's clock and `record_visit`: time never goes backwards; a non-engagement event after
 * the session timeout starts a new visit. Also keeps what aggregates read: distinct pages and
 * visible seconds. Returns the effective `now`.
 */
export function recordVisit(model, state, event, now) {
  if (state.clock != null && state.clock > now) now = state.clock;
  if (state.lastSeen != null && state.lastSeen > now) now = state.lastSeen;
  state.clock = now;
  const newVisit = event.type !== 'engagement' && (state.lastSeen == null || now - state.lastSeen > model.sessionMs);
  state.gap = state.lastSeen == null ? null : now - state.lastSeen;
  state.newVisit = newVisit;
  state.lastSeen = now;
  if (newVisit) state.visits++;
  if (event.type === 'page_view') {
    const hash = pageHash(event.path);
    if (state.pages.length < MAX_DISTINCT_PAGES && !state.pages.includes(hash)) state.pages.push(hash);
  } else if (event.type === 'engagement') {
    state.seconds += event.seconds;
  }
  return now;
}

/** An answer rule counts while the current answer meets it. */
export function answerRule(r, state, holds, now) {
  const rs = state.rules[r.index];
  if (holds && rs.count === 0) fire(r, state, now);
  else if (!holds && rs.count > 0) {
    rs.count = 0;
    rs.held = 0;
    rs.heldAt = 0;
    rs.firings.length = 0;
  }
}

/** Aggregate conditions award their points once, when they become true. */
export function aggregates(model, state, event, now, pageViewMatches) {
  for (const r of model.aggregate) {
    const rs = state.rules[r.index];
    let reached;
    switch (r.kind) {
      case 'visits': reached = state.visits >= r.atLeast; break;
      case 'distinct_pages': reached = state.pages.length >= r.atLeast; break;
      case 'page_views':
        if (event.type === 'page_view' && pageViewMatches(r)) rs.progress++;
        reached = rs.progress >= r.atLeast;
        break;
      case 'time_on_site': reached = state.seconds >= r.atLeast; break;
      case 'return_visit': reached = state.newVisit && state.gap != null && state.gap <= r.withinMs; break;
      default: reached = false;
    }
    if (reached && rs.count === 0) fire(r, state, now);
  }
}

/** One firing of rule `r`, if its frequency allows (the engine's `fire`). */
export function fire(r, state, now) {
  const rs = state.rules[r.index];
  switch (r.freq) {
    case 0: if (rs.count !== 0) return; break;
    case 1: break;
    case 2: if (rs.count >= r.atMost) return; break;
    default: {
      const start = now - r.windowMs;
      rs.window = rs.window.filter((t) => t > start);
      if (rs.window.length >= r.windowTimes) return;
      rs.window.push(now);
    }
  }
  rs.count++;
  if (r.halfLifeDays) {
    rs.held = rs.held * halfLifeFactor(now - rs.heldAt, r.halfLifeDays) + r.heldStep;
    rs.heldAt = now;
  } else if (r.expiresMs) {
    const start = now - r.expiresMs;
    const firings = rs.firings.filter(([t]) => t > start);
    const last = firings[firings.length - 1];
    if (last && last[0] === now) last[1]++;
    else firings.push([now, 1]);
    if (firings.length > MAX_FIRINGS_KEPT) {
      const [, n] = firings.shift();
      firings[0][1] += n;
    }
    rs.firings = firings;
  }
}

/** 2^-n for n = 0..1074, each exact (halving a power of two is exact down to the subnormals). */
const POW2 = (() => {
  const table = new Float64Array(1075);
  let p = 1;
  for (let n = 0; n < table.length; n++, p /= 2) table[n] = p;
  return table;
})();

/**
 * The share of points left after `elapsed` ms with a half-life of `days`, exactly as the engine's
 * `half_life_factor` computes it: the whole number of halvings as an exact power of two (in two
 * factors, as the engine does), the fraction as exp(-f·ln 2) with `libmExp` below.
 */
export function halfLifeFactor(elapsed, days) {
  if (elapsed <= 0) return 1;
  const halvings = elapsed / (days * DAY_MS);
  if (Number.isNaN(halvings) || halvings >= 1075) return 0;
  const whole = Math.floor(halvings);
  const fraction = libmExp(-(halvings - whole) * Math.LN2);
  const half = Math.trunc(whole / 2);
  return fraction * POW2[half] * POW2[whole - half];
}

// Rust's `libm::exp` (0.2.16, the engine's in every build), line for line: musl's version of
// fdlibm's e_exp.c. V8's Math.exp gives other last bits for some inputs: in headless Chromium 156
// for about one decay exponent in ten in (-ln 2, 0] (Node 20's V8: none), enough to make sub-scores
// differ by an ulp. With the port the reference's floats equal the kernel's bit for bit whatever
// the browser's Math.exp does (the run reports how many decay exponents Math.exp gives otherwise).
const LN2HI = 6.93147180369123816490e-01;
const LN2LO = 1.90821492927058770002e-10;
const INVLN2 = 1.44269504088896338700e+00;
const P1 = 1.66666666666666019037e-01;
const P2 = -2.77777777770155933842e-03;
const P3 = 6.61375632143793436117e-05;
const P4 = -1.65339022054652515390e-06;
const P5 = 4.13813679705723846039e-08;
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer); // little-endian: words[1] is the high word

export function libmExp(x) {
  bits[0] = x;
  let hx = words[1];
  const sign = hx >>> 31;
  hx &= 0x7fffffff;
  if (hx >= 0x4086232b) {
    if (Number.isNaN(x)) return x;
    if (x > 709.782712893383973096) return Infinity;
    if (x < -745.13321910194110842) return 0;
  }
  let hi;
  let lo;
  let k;
  if (hx > 0x3fd62e42) {
    k = hx >= 0x3ff0a2b2 ? Math.trunc(INVLN2 * x + (sign ? -0.5 : 0.5)) : 1 - sign - sign;
    hi = x - k * LN2HI;
    lo = k * LN2LO;
    x = hi - lo;
  } else if (hx > 0x3e300000) {
    k = 0;
    hi = x;
    lo = 0;
  } else {
    return 1 + x;
  }
  const xx = x * x;
  const c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
  const y = 1 + ((x * c) / (2 - c) - lo + hi);
  return k === 0 ? y : scalbn(y, k);
}

/** y·2^k, exact while the result is a normal number (all the decay factors need: k is 0 or -1). */
function scalbn(y, k) {
  if (k < -1022 || k > 1023) return y * 2 ** k;
  bits[0] = 0;
  words[1] = (1023 + k) << 20;
  return y * bits[0];
}

/** Points rule `r` gives now (after decay, before limits), as the engine's `rule_points`. */
export function rulePoints(r, rs, now) {
  if (r.halfLifeDays) {
    const held = rs.held * halfLifeFactor(now - rs.heldAt, r.halfLifeDays);
    return r.heldInPoints ? held : r.points * held;
  }
  if (r.expiresMs) {
    const start = now - r.expiresMs;
    let live = 0;
    for (const [t, n] of rs.firings) if (t > start) live += n;
    return r.points * live;
  }
  return r.points * rs.count;
}

/**
 * The score at `now` (the engine's `score`): sums per dimension in rule order, clamped; the total
 * clamped; the first tier whose thresholds and required rules hold. Stores the tier, as `apply`
 * does, and gives `code` = tier + 256 * previous tier.
 */
export function scoreAndStoreTier(model, state, now) {
  const s = score(model, state, now);
  state.tier = s.tier;
  return s;
}

export function score(model, state, now) {
  const sums = [0, 0, 0, 0];
  for (const r of model.rules) {
    const rs = state.rules[r.index];
    if (rs.count !== 0) sums[r.dim] += rulePoints(r, rs, now);
  }
  for (let d = 0; d < 4; d++) {
    const b = model.limits[d];
    if (b) sums[d] = Math.max(Math.min(sums[d], b[1]), b[0]);
  }
  let total = sums[0] + sums[1] + sums[2] + sums[3];
  if (model.totalLimits) total = Math.max(Math.min(total, model.totalLimits[1]), model.totalLimits[0]);
  const values = [sums[0], sums[1], sums[2], sums[3], total];
  let reached = 0;
  for (let i = 0; i < model.tiers.length; i++) {
    if (tierHolds(model, model.tiers[i], values, state, now)) {
      reached = i + 1;
      break;
    }
  }
  const stored = state.tier;
  let tier = reached;
  if (!model.allowDemotion && stored !== 0) tier = reached === 0 ? stored : Math.min(reached, stored);
  return { fit: sums[0], engagement: sums[1], intent: sums[2], product: sums[3], total, tier, previous: stored, code: tier + 256 * stored };
}

function tierHolds(model, tier, values, state, now) {
  for (let k = 0; k < 5; k++) {
    if (tier.min[k] != null && !(values[k] >= tier.min[k])) return false;
    if (tier.max[k] != null && !(values[k] <= tier.max[k])) return false;
  }
  for (const i of tier.requires) {
    const r = model.rules[i];
    const rs = state.rules[i];
    if (!rs || rs.count === 0) return false;
    if (r.expiresMs && !rs.firings.some(([t]) => t > now - r.expiresMs)) return false;
  }
  return true;
}

// ---- matching helpers (also the json-rules-engine variant's custom operators) ----

/** A path pattern (`/pricing`, `/blog/*`, `/docs/**`) as a test of a path: ASCII case and a
 * trailing `/` ignored, `*` within one segment, `**` across segments, `?` one character. */
export function compilePattern(pattern) {
  const p = trimSlash(pattern).toLowerCase();
  if (!/[*?]/.test(p)) return (path) => trimSlash(path).toLowerCase() === p;
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      i++;
      if (p[i + 1] === '/') {
        i++;
        re += '(?:.*/)?'; // `**/`: any number of segments, or none
      } else if (re.endsWith('/') && i === p.length - 1) {
        re = re.slice(0, -1) + '(?:/.*)?'; // `/**` at the end: also the bare prefix
      } else {
        re += '.*';
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${re}$`, 'i');
  return (path) => regex.test(trimSlash(path));
}

function trimSlash(s) {
  return s.length > 1 && s.endsWith('/') ? s.slice(0, -1) : s;
}

/** A condition on an answer or property value (`equals`, `one_of`, or `min`/`max`). */
export function compileCondition(c) {
  if (c.equals != null) {
    const want = c.equals;
    return (v) => equalsText(v, want);
  }
  if (c.one_of != null) {
    const list = c.one_of;
    return (v) => list.some((want) => equalsText(v, want));
  }
  const min = c.min ?? -Infinity;
  const max = c.max ?? Infinity;
  return (v) => {
    const n = asNumber(v);
    return n != null && n >= min && n <= max;
  };
}

/** The engine's `Value::equals_text`. */
export function equalsText(v, text) {
  if (typeof v === 'string') return v.trim().toLowerCase() === text.toLowerCase();
  if (typeof v === 'boolean') return text.toLowerCase() === (v ? 'true' : 'false');
  const n = parseNumber(text);
  return n != null && n === v;
}

/** The engine's `Value::as_number`. */
export function asNumber(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseNumber(v.trim());
  return null;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The engine's `parse_number`: a plain decimal number, or null. */
export function parseNumber(text) {
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The page rule's query conditions: each parameter present, equal ignoring case or `*`. */
export function queryHolds(conditions, query) {
  for (const [k, v] of conditions) {
    if (!query || !Object.hasOwn(query, k)) return false;
    if (v !== '*' && String(query[k]).toLowerCase() !== v) return false;
  }
  return true;
}

/** The path of a URL (`https://x.com/a/b.pdf?x=1` → `/a/b.pdf`); a bare path stays as it is. */
export function urlPath(url) {
  let start = 0;
  const scheme = url.indexOf('://');
  if (scheme >= 0) {
    const slash = url.indexOf('/', scheme + 3);
    start = slash < 0 ? url.length : slash;
  }
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    if (url[i] === '?' || url[i] === '#') {
      end = i;
      break;
    }
  }
  if (start === url.length) return '/';
  return url.slice(start, end);
}

/** The extension of the last path segment (`/a/b.pdf` → `pdf`), if it has a name before it. */
export function extension(path) {
  const file = path.lastIndexOf('/') + 1;
  const dot = path.lastIndexOf('.');
  return dot > file && dot + 1 < path.length ? path.slice(dot + 1) : null;
}

/** FNV-1a of the path without trailing slashes, ASCII-lowercased (the engine's `page_hash`). */
export function pageHash(path) {
  let end = path.length;
  if (end > 1) while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    let b = path.charCodeAt(i);
    if (b >= 65 && b <= 90) b += 32;
    h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h;
}
