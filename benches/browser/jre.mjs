// Variant (c): json-rules-engine (npm) decides which of the model's rules an event matches, one
// fact per event field; the state keeping it cannot express — frequency caps, decay, answers that
// count while they hold, aggregates' counters, sub-scores, limits and tiers — is the reference's
// (reference.mjs), called around each `engine.run`.
//
// The rules are translated from the same model JSON: one json-rules-engine rule per model rule,
// the event type as a high-priority condition (so that the other conditions of a rule for another
// event type are not evaluated), the engine's matching (path patterns, ASCII case, trimmed text,
// numbers given as text) as custom operators, and aggregate rules as conditions on the visit's
// figures (visits, distinct pages, visible seconds, new visit, time since the last event), which
// the state keeping passes as facts.

import * as ref from './reference.mjs';

const DAY_MS = 86_400_000;
const TYPES = { page: 'page_view', download: 'download', answer: 'answer', form: 'form_submit', event: 'custom', page_views: 'page_view' };

/** The json-rules-engine rules of a model (JSON), one per model rule, in model order. */
export function rulesOf(json) {
  return json.rules.map((rule, index) => {
    const kind = Object.keys(rule.when)[0];
    const when = rule.when[kind];
    const all = [];
    if (TYPES[kind]) all.push({ fact: 'type', operator: 'equal', value: TYPES[kind], priority: 2 });
    switch (kind) {
      case 'page':
        all.push({ fact: 'path', operator: 'pathMatches', value: when.path });
        for (const [k, v] of Object.entries(when.query ?? {})) all.push({ fact: `query.${k}`, operator: 'queryEquals', value: v });
        break;
      case 'download': {
        const any = [];
        if (when.url != null) any.push({ fact: 'url', operator: 'urlPathMatches', value: when.url });
        if (when.extensions?.length) any.push({ fact: 'url', operator: 'urlExtensionIn', value: when.extensions.map((e) => e.toLowerCase()) });
        all.push({ any });
        break;
      }
      case 'answer':
        all.push({ fact: 'question', operator: 'sameText', value: when.question.toLowerCase() });
        all.push(...valueConditions('value', when));
        break;
      case 'form': {
        const any = [];
        if (when.id != null) any.push({ fact: 'id', operator: 'sameText', value: when.id.toLowerCase() });
        if (when.name != null) any.push({ fact: 'name', operator: 'sameText', value: when.name.toLowerCase() });
        all.push({ any });
        break;
      }
      case 'event':
        all.push({ fact: 'name', operator: 'sameText', value: when.name.toLowerCase() });
        for (const [k, c] of Object.entries(when.properties ?? {})) all.push(...valueConditions(`prop.${k}`, c));
        break;
      case 'visits':
        all.push({ fact: 'visits', operator: 'greaterThanInclusive', value: when.at_least });
        break;
      case 'distinct_pages':
        all.push({ fact: 'distinctPages', operator: 'greaterThanInclusive', value: when.at_least });
        break;
      case 'time_on_site':
        all.push({ fact: 'secondsOnSite', operator: 'greaterThanInclusive', value: when.at_least_seconds });
        break;
      case 'return_visit':
        all.push({ fact: 'newVisit', operator: 'equal', value: true });
        all.push({ fact: 'gapMs', operator: 'lessThanInclusive', value: when.within_days * DAY_MS });
        break;
      case 'page_views': // matching views count towards the threshold (kept by the wrapper)
        all.push({ fact: 'path', operator: 'pathMatches', value: when.path });
        break;
      default:
        throw new Error(`rules[${index}]: no json-rules-engine translation for "${kind}"`);
    }
    return { name: rule.id, conditions: { all }, event: { type: rule.id, params: { rule: index } } };
  });
}

function valueConditions(fact, c) {
  if (c.equals != null) return [{ fact, operator: 'valueEquals', value: c.equals }];
  if (c.one_of != null) return [{ fact, operator: 'valueOneOf', value: c.one_of }];
  const out = [];
  if (c.min != null) out.push({ fact, operator: 'numberAtLeast', value: c.min });
  if (c.max != null) out.push({ fact, operator: 'numberAtMost', value: c.max });
  return out;
}

/** The engine's matching, as json-rules-engine operators. */
function addOperators(engine) {
  const patterns = new Map();
  const pattern = (p) => {
    let test = patterns.get(p);
    if (!test) patterns.set(p, (test = ref.compilePattern(p)));
    return test;
  };
  engine.addOperator('pathMatches', (path, p) => typeof path === 'string' && pattern(p)(path));
  engine.addOperator('urlPathMatches', (url, p) => typeof url === 'string' && pattern(p)(ref.urlPath(url)));
  engine.addOperator('urlExtensionIn', (url, list) => {
    const ext = typeof url === 'string' ? ref.extension(ref.urlPath(url)) : null;
    return ext != null && list.includes(ext.toLowerCase());
  });
  engine.addOperator('sameText', (v, want) => typeof v === 'string' && v.trim().toLowerCase() === want);
  engine.addOperator('queryEquals', (v, want) => v != null && (want === '*' || String(v).toLowerCase() === want.toLowerCase()));
  engine.addOperator('valueEquals', (v, want) => v !== undefined && ref.equalsText(v, want));
  engine.addOperator('valueOneOf', (v, list) => v !== undefined && list.some((want) => ref.equalsText(v, want)));
  engine.addOperator('numberAtLeast', (v, min) => {
    const n = v === undefined ? null : ref.asNumber(v);
    return n != null && n >= min;
  });
  engine.addOperator('numberAtMost', (v, max) => {
    const n = v === undefined ? null : ref.asNumber(v);
    return n != null && n <= max;
  });
}

/** A json-rules-engine scorer of `json` (the model), using the `Engine` class given; `options` as
 * for the reference's `prepare`. */
export function create(Engine, json, options) {
  const model = ref.prepare(json, options);
  const engine = new Engine([], { allowUndefinedFacts: true });
  addOperators(engine);
  for (const rule of rulesOf(json)) engine.addRule(rule);
  return { model, engine, newState: () => ref.newState(model), apply: (state, event, now) => apply(model, engine, state, event, now) };
}

/** One fact per event field (query parameters and properties one each; absent fields are
 * undefined facts), and the visit figures that aggregate rules read. */
function factsOf(event, state) {
  const facts = {
    visits: state.visits,
    distinctPages: state.pages.length,
    secondsOnSite: state.seconds,
    newVisit: state.newVisit,
  };
  if (state.gap != null) facts.gapMs = state.gap;
  for (const k in event) {
    if (k === 'query' || k === 'properties') continue;
    if (event[k] !== undefined) facts[k] = event[k];
  }
  for (const k in event.query) facts[`query.${k}`] = event.query[k];
  for (const k in event.properties) facts[`prop.${k}`] = event.properties[k];
  return facts;
}

/** Scores one event: `tier + 256 * previous_tier`, or -1 (rejected), as the kernel's `apply`. */
export async function apply(model, engine, state, event, now) {
  if (!ref.valid(event)) return -1;
  now = ref.recordVisit(model, state, event, now);
  const { results, failureResults } = await engine.run(factsOf(event, state));
  for (const result of results) {
    const r = model.rules[result.event.params.rule];
    if (r.kind === 'answer') ref.answerRule(r, state, true, now);
    else if (r.kind === 'page_views') {
      const rs = state.rules[r.index];
      if (++rs.progress >= r.atLeast && rs.count === 0) ref.fire(r, state, now);
    } else ref.fire(r, state, now);
  }
  if (event.type === 'answer') {
    // An answer to the rule's question that no longer meets it takes the rule's points back.
    for (const result of failureResults) {
      const r = model.rules[result.event.params.rule];
      if (r.kind === 'answer' && result.conditions.all.some((c) => c.fact === 'question' && c.result === true)) {
        ref.answerRule(r, state, false, now);
      }
    }
  }
  return ref.scoreAndStoreTier(model, state, now).code;
}
