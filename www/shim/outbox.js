// Delivering tier results: the payload, `fetch` with keepalive (one at a time, each answer
// confirmed), `navigator.sendBeacon` when the page goes away, and the backoff between retries.

import { randomId } from './store.js';

/** How a delivery ended. */
export const ACCEPTED = 0;
export const FAILED = 1;
export const REFUSED = 2;

/**
 * The tier payload of one tier change, with a fresh idempotency id. `scores` (fit, engagement,
 * intent, product, total) only when the site opted in to sending them.
 */
export const payload = (change, model, record, now, scores) => ({
  schema: 1,
  tier: change.tier,
  previous_tier: change.previous_tier,
  model_id: model.id,
  model_version: model.version,
  visitor_id: record.visitor,
  event_id: randomId(),
  at: new Date(now).toISOString(),
  lead_id: record.lead,
  scores,
});

/**
 * What an HTTP status means for a result: 2xx accepted; 408, 429, 5xx (and no answer) worth
 * retrying; any other 4xx refused for good (the same body cannot succeed later).
 */
export const outcome = (status) =>
  status >= 200 && status < 300 ? ACCEPTED
  : status >= 400 && status < 500 && status != 408 && status != 429 ? REFUSED
  : FAILED;

/** Delay before retry number `attempts` (1, 2, ...): 2 s, doubling, at most 5 minutes. */
export const backoff = (attempts) => Math.min(2000 * 2 ** Math.min(attempts - 1, 16), 300000);

/** Posts `body` to `endpoint` without cookies or referrer; resolves to how it ended. */
export async function post(endpoint, body) {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      body: JSON.stringify(body),
      keepalive: true,
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      headers: { 'content-type': 'application/json' },
    });
    return outcome(response.status);
  } catch {
    return FAILED;
  }
}

/** Hands `body` to the browser to send after the page is gone; true when it was queued. */
export function beacon(endpoint, body) {
  try {
    return navigator.sendBeacon(endpoint, JSON.stringify(body));
  } catch {
    return false;
  }
}
