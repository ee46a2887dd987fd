// Reading the page into events, and telling the page about tier changes.
//
// Only what the model asks for is read: a form field whose name no answer rule references is
// skipped before its value is touched, and query parameters no page rule tests are dropped.

import { attempt } from './store.js';

/** The query parameters of `search` (`?a=1&b=2`) named in `keys`, first value of each. */
export function keptQuery(search, keys) {
  const query = Object.create(null);
  new URLSearchParams(search).forEach((value, key) => {
    if (keys.includes(key) && !(key in query)) query[key] = value;
  });
  return query;
}

/**
 * The answer a form field gives, if its name is one of the model's `questions` (compared
 * without case and surrounding spaces). An unchecked radio button gives nothing; an unchecked
 * checkbox clears the answer.
 */
export const answer = (field, questions) => {
  const name = field.getAttribute && field.getAttribute('name');
  const question = name && questions.find((q) => q.toLowerCase() == name.trim().toLowerCase());
  if (!question || (field.type == 'radio' && !field.checked)) return;
  const value = field.type == 'checkbox' && !field.checked ? '' : field.value;
  if (typeof value == 'string') return { type: 'answer', question, value };
};

/**
 * What a submitted form says: the answers of its referenced, non-empty fields (one per
 * question), then the submission itself, named by the form's id and name attributes.
 */
export function submission(form, questions) {
  const events = [];
  for (const field of form.elements || []) {
    const a = answer(field, questions);
    if (a && a.value.trim() && !events.some((e) => e.question == a.question)) events.push(a);
  }
  const attr = (name) => (form.getAttribute(name) || '').trim() || undefined;
  const id = attr('id');
  const name = attr('name');
  if (id || name) events.push({ type: 'form_submit', id, name });
  return events;
}

/**
 * The path of a link that is a download: marked by the page (`data-leadscore-download`,
 * `download`) or matching a download rule (`isDownload`, the kernel's own matching). An SVG
 * link has no pathname (undefined, which the test reads as "undefined").
 */
export function download(link, isDownload) {
  const path = link.pathname;
  if (/^\//.test(path) &&
    (link.hasAttribute('data-leadscore-download') || link.hasAttribute('download') || isDownload(path))) {
    return path;
  }
}

/**
 * Sets every form field named `name` to `value` through the setter of its prototype chain, past
 * any `value` a framework defined on the element itself (React and friends watch the native
 * setter), with bubbling `input` and `change` events. Fields already holding the value are left
 * alone.
 */
export function fill(name, value) {
  for (const field of document.getElementsByName(name)) {
    if (!/^(INPUT|TEXTAREA|SELECT)$/.test(field.tagName) || field.value == value) continue;
    Reflect.set(Object.getPrototypeOf(field), 'value', value, field);
    for (const type of ['input', 'change']) field.dispatchEvent(new Event(type, { bubbles: true }));
  }
}

/**
 * Tells the page about a tier change: `dataLayer.push` (unless `quiet`: a tag manager may
 * forward it to third parties), the `leadscore:tier` event on document, and each callback.
 * Whatever the host's code throws stays there.
 */
export function announce(change, callbacks, quiet) {
  const layer = window.dataLayer;
  if (!quiet && layer && typeof layer.push == 'function') {
    attempt(() => layer.push({ event: 'leadscore_tier', ...change }));
  }
  document.dispatchEvent(new CustomEvent('leadscore:tier', { detail: { ...change } }));
  for (const callback of callbacks) attempt(callback, { ...change });
}
