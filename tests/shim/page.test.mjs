// Reading the page: kept query parameters, answers of referenced fields, form submissions, downloads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answer, download, keptQuery, submission } from '../../www/shim/page.js';

/** A form field as the page adapter reads it. */
const field = (name, value, extra = {}) => ({
  value,
  type: 'text',
  getAttribute: (a) => (a == 'name' ? name : null),
  ...extra,
});
const QUESTIONS = ['role', 'company_size', 'timeline', 'newsletter'];

test('only the query parameters a page rule tests are kept, first value, decoded', () => {
  assert.deepEqual({ ...keptQuery('?utm_source=linkedin&email=a%40b.c&utm_source=x', ['utm_source']) },
    { utm_source: 'linkedin' });
  assert.deepEqual({ ...keptQuery('?q=a+b%20c', ['q']) }, { q: 'a b c' });
  assert.deepEqual({ ...keptQuery('?a=1', []) }, {});
  assert.deepEqual(Object.entries(keptQuery('?constructor=1&__proto__=2', ['constructor', '__proto__'])),
    [['constructor', '1'], ['__proto__', '2']]);
});

test('answers: referenced fields only (name without case or spaces), radio and checkbox rules', () => {
  assert.deepEqual(answer(field(' Role ', 'cto'), QUESTIONS), { type: 'answer', question: 'role', value: 'cto' });
  assert.equal(answer(field('email', 'a@b.c'), QUESTIONS), undefined, 'unreferenced');
  assert.equal(answer(field(null, 'x'), QUESTIONS), undefined);
  assert.equal(answer({}, QUESTIONS), undefined, 'not an element');
  assert.equal(answer(field('timeline', 'now', { type: 'radio', checked: false }), QUESTIONS), undefined);
  assert.equal(answer(field('timeline', 'now', { type: 'radio', checked: true }), QUESTIONS).value, 'now');
  assert.equal(answer(field('newsletter', 'yes', { type: 'checkbox', checked: false }), QUESTIONS).value, '');
  assert.equal(answer(field('newsletter', 'yes', { type: 'checkbox', checked: true }), QUESTIONS).value, 'yes');
});

test('a submitted form: each referenced non-empty answer once, then the submission', () => {
  const form = (attrs, elements) => ({ elements, getAttribute: (a) => attrs[a] ?? null });
  const elements = [field('role', 'cto'), field('role', 'student'), field('company_size', ' '), field('email', 'a@b.c'),
    field('timeline', 'now', { type: 'radio', checked: false }), field('timeline', 'this-quarter', { type: 'radio', checked: true })];
  assert.deepEqual(submission(form({ id: 'fit-quiz', name: ' ' }, elements), QUESTIONS), [
    { type: 'answer', question: 'role', value: 'cto' },
    { type: 'answer', question: 'timeline', value: 'this-quarter' },
    { type: 'form_submit', id: 'fit-quiz', name: undefined },
  ]);
  assert.deepEqual(submission(form({ name: 'newsletter' }, []), QUESTIONS), [
    { type: 'form_submit', id: undefined, name: 'newsletter' },
  ]);
  assert.deepEqual(submission(form({}, []), QUESTIONS), [], 'a form without id or name');
});

test('downloads: marked links, or paths the kernel matches', () => {
  const link = (pathname, attrs = []) => ({ pathname, hasAttribute: (a) => attrs.includes(a) });
  const isPdf = (path) => path.endsWith('.pdf');
  assert.equal(download(link('/r/guide.pdf'), isPdf), '/r/guide.pdf');
  assert.equal(download(link('/files/report.docx', ['data-leadscore-download']), isPdf), '/files/report.docx');
  assert.equal(download(link('/files/report.docx', ['download']), isPdf), '/files/report.docx');
  assert.equal(download(link('/pricing'), isPdf), undefined);
  assert.equal(download({ hasAttribute: () => true }, isPdf), undefined, 'an SVG link has no pathname');
});
