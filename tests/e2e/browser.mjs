// Headless Chromium through playwright-core (Playwright cannot download browsers here).

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (empty storage) whose pages record console warnings and errors. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.warnings = [];
  page.errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'warning' || msg.type() === 'error') page.warnings.push(msg.text());
  });
  page.on('pageerror', (err) => page.errors.push(String(err)));
  return { context, page };
}

/** Waits until the widget runs on the page (its `explain` answers). */
export async function widgetReady(page) {
  await page.waitForFunction(() => {
    try {
      return !!(window.leadscore && window.leadscore('explain'));
    } catch {
      return false;
    }
  }, null, { timeout: 10_000 });
}

/** The visitor's score as the widget explains it. */
export function explain(page) {
  return page.evaluate(() => window.leadscore('explain'));
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, what, timeout = 10_000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Warnings printed by the widget. */
export const widgetWarnings = (page) => page.warnings.filter((w) => w.startsWith('leadscore:'));

/** The host page's button and form still work, and the widget never threw into the page. */
export async function assertHostWorks(page) {
  await page.click('#host-button');
  assert.equal(await page.textContent('#host-out'), 'host ok');
  await page.click('#host-form button');
  assert.match(await page.textContent('#host-out'), /^form ok/);
  const calls = await page.evaluate(() => {
    try {
      leadscore('track', 'signup');
      leadscore('identify', 'x');
      leadscore('explain');
      leadscore('no-such-command', 1, 2);
      return 'no throw';
    } catch (e) {
      return String(e);
    }
  });
  assert.equal(calls, 'no throw');
  assert.deepEqual(page.errors, []);
}
