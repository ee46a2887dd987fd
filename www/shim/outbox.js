// Delivering tier results: the payload, `fetch` with keepalive (each answer confirmed or timed
// out, also when the page goes away), and the backoff between retries.

import { randomId, toJSON } from './store.js';

/** The scores, in the kernel's order; the first four are also the dimensions of the rules. */
export const SCORES = ['fit', 'engagement', 'intent', 'product', 'total'];

/** How a delivery ended. */
export const ACCEPTED = 0;
export const FAILED = 1;
export const REFUSED = 2;

/**
 * The tier payload of one tier change (`change`: {tier, previous_tier}), with a fresh idempotency
 * id. `scores` (fit, engagement, intent, product, total) and `rules` (rule id -> [times fired,
 * points now]) only when the site opted in to sending them.
 */
export const payload = (change, model, record, now, scores, rules) => ({
  schema: 1,
  ...change,
  model_id: model.id,
  model_version: model.version,
  visitor_id: record.visitor,
  event_id: randomId(),
  at: new Date(now).toISOString(),
  lead_id: record.lead,
  scores,
  rules,
});

/**
 * What an HTTP status means for a result: 2xx accepted; 408, 429, 5xx (and no answer) worth
 * retrying; any other 4xx refused for good (the same body cannot succeed later).
 */
export const outcome = (status) =>
  // status / 100 | 0: the class of the status (2 for 2xx, 4 for 4xx)
  (status / 100 | 0) == 2 ? ACCEPTED : (status / 100 | 0) == 4 && status != 408 && status != 429 ? REFUSED : FAILED;

/** Delay before retry number `attempts` (1, 2, ...): 2 s, doubling, at most 5 minutes. */
export const backoff = (attempts) => Math.min(2000 * 2 ** Math.min(attempts - 1, 16), 300000);

const FIELDS = 'schema tier previous_tier model_id model_version visitor_id event_id at lead_id'.split(' ');
/** The entries of `object` named in `keys` that are not null or undefined. */
export const pick = (object, keys) =>
  Object.fromEntries(keys.filter((k) => object[k] != null).map((k) => [k, object[k]]));

/** The payload as it is sent: its known fields only, whatever else the stored record holds. */
export const sendable = (p) => {
  const out = pick(p, FIELDS);
  if (p.scores) out.scores = pick(p.scores, SCORES);
  if (p.rules) {
    out.rules = Object.fromEntries(Object.entries(p.rules).filter(([, v]) =>
      Array.isArray(v) && v.length == 2 && v.every(Number.isInteger)));
  }
  return out;
};

/** How long a delivery may take before it counts as failed (a backend that never answers). */
export const TIMEOUT = 10000;

/**
 * Posts `body` to `endpoint` without cookies or referrer, as a CORS-simple request (a string
 * body goes as text/plain;charset=UTF-8: no preflight); resolves to how it ended. A post still
 * unanswered after TIMEOUT is aborted and counts as failed.
 */
export async function post(endpoint, body) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT);
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      body: toJSON(sendable(body)),
      keepalive: true,
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: abort.signal,
    });
    return outcome(response.status);
  } catch {
    return FAILED;
  } finally {
    clearTimeout(timer);
  }
}
