// leadscore: lead scoring in the visitor's browser; only the tier result leaves the page.
//
//   <script async src="/leadscore/leadscore.js" data-model="/leadscore/model.bin"
//           data-endpoint="https://api.example.com/v1/tier"></script>
//
// Settings (data-* attributes, or leadscore('init', {...})):
//   model            URL of the compiled model (`leadscore build`), or of a JSON model, or the id
//                    of an inline <script type="application/json"> model (JSON models load the
//                    debug bundle to compile them: a heavier page)
//   endpoint         where tier results are posted (nothing is sent without it)
//   field            name of hidden form fields that receive the tier
//   consent          "required": nothing is stored or sent before leadscore('consent', true)
//   privacy-signals  "ignore": send even with Global Privacy Control / Do Not Track
//   send-scores      include the sub-scores in tier results
//   send-rules       include the rule summary (rule id -> [times fired, points now]) in tier
//                    results of identified leads whose consent the page gave with
//                    leadscore('consent', true); for retuning the model from outcomes
//   challenger       URL of a second compiled model, tried on a share of visitors
//   challenger-share that share, 0 to 1 or a percentage ("10%"); each visitor is assigned by a
//                    hash of their random id and keeps the assignment; only that model is fetched
//   debug            show the debug panel (also ?leadscore_debug=1)
//   base             where the kernel files are (default: next to this script)
//
// Calls: leadscore('track', name, props), ('identify', leadId), ('consent', bool), ('forget'),
// ('on', 'tier', callback), ('explain'), ('page'). Calls made before the widget runs are queued
// and replayed. Nothing here ever throws into the host page: any failure switches the whole
// widget off with one console warning.

import { encodeEvent, utf8 } from './event.js';
import { MAX_OUTBOX, attempt, freshRecord, fromBase64, inShare, isLeadId, openStore, parseJSON, parseRecord, randomId,
  recordText, toBase64, toJSON } from './store.js';
import { FAILED, REFUSED, SCORES, TIMEOUT, backoff, payload, pick, post } from './outbox.js';
import { announce, answer, download, fill, keptQuery, submission } from './page.js';

/** When waiting results go out: after the backoff, now, or all at once (the page is going away). */
const DUE = 0;
const NOW = 1;
const LEAVING = 2;
/** Time on site stops counting this long after the visitor's last input (an idle visible tab). */
const IDLE = 30000;
/** Why the kernel cannot use a compiled model, by `load()` code. */
const UNUSABLE = [, 'not a compiled leadscore model', 'compiled for another format version', 'damaged', 'malformed'];

/** Each warning is printed at most once per page, and none after the one that switched the widget off. */
const warned = new Set();
let quiet;
function warn(message, off) {
  if (quiet || warned.has(message)) return;
  warned.add(message);
  quiet = off;
  console.warn('leadscore: ' + message);
}

/** Fetches `url`; an HTTP error names the URL and the status. */
const get = (url) =>
  fetch(url).then((r) => {
    if (!r.ok) throw Error(`${url}: HTTP ${r.status}`);
    return r;
  });
const text = (v) => (v == null ? '' : String(v).trim());
/** A setting that is on: true, or a bare data-* attribute, "1", "true", "yes", "on". */
const flag = (v) => v === true || (typeof v == 'string' && /^(|1|true|yes|on)$/i.test(v.trim()));

const existing = window.leadscore;
if (!(existing && existing.loaded)) {
  try {
    install();
  } catch (e) {
    warn(`could not start (${e})`, 1);
  }
}

function install() {
  const script = document.currentScript || document.querySelector('script[src*="leadscore.js"]');
  const data = (script && script.dataset) || {};
  // The script tag's data-* attributes, named as in `init` (data-send-scores: send_scores).
  const settings = {};
  for (const key in data) settings[key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] = data[key];
  const queue = existing && Array.isArray(existing.q) ? existing.q : [];
  let phase = 0; // 0 waiting for a model, 1 loading, 2 running, 3 off
  let run; // the running widget's commands
  const stops = []; // what switching off undoes
  const required = () => /^required$/i.test(text(settings.consent));

  /** Switches everything off for the rest of the page, with one warning. */
  const off = (message) => {
    if (phase == 3) return;
    phase = 3;
    queue.length = 0;
    // One failing undo does not keep the rest from running.
    for (const stop of stops) attempt(stop);
    warn(message, 1);
  };
  /** `fn` that never throws: whatever it throws switches the widget off. */
  const safe = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      off(`internal error (${e}), so the widget is off`);
    }
  };
  /** `fn` as a listener or callback: it runs only while the widget runs, and never throws. */
  const guard = (fn) => safe((...args) => phase == 2 && fn(...args));

  const leadscore = safe((name, ...args) => {
    if (phase == 2) return run[name] && run[name](...args);
    if (phase == 3) return;
    if (name == 'init') {
      Object.assign(settings, args[0]);
      boot();
    } else if (queue.length < 100 || (name != 'track' && name != 'page')) {
      // Beyond 100 queued calls only events are dropped, never consent, identify or forget.
      queue.push([name, ...args]);
      if (name == 'consent') boot();
    }
  });
  leadscore.loaded = 1;
  leadscore.q = queue;
  window.leadscore = leadscore;

  /** Loads the kernel, the model (and the debug module when needed), then starts. */
  async function boot() {
    const consentRequired = required();
    const challenger = text(settings.challenger);
    const granted = queue.some(([name, yes]) => name == 'consent' && yes === true);
    // A challenger is assigned by the visitor's stored id, which is read only with consent.
    if (phase || !settings.model || (challenger && consentRequired && !granted)) return;
    phase = 1;
    try {
      // With a challenger the visitor keeps their id (so their model) even when their stored
      // state turns out unusable; without one, an unusable record gives a fresh visitor.
      const stored = challenger && (!consentRequired || granted) && parseRecord(openStore(true, () => {}).read());
      const visitor = stored ? stored.visitor : randomId();
      // The folder of the kernel files (a query string or a file name in `base` is left out).
      const folder = new URL(text(settings.base || '.'), (script && script.src) || location.href);
      if (!folder.pathname.endsWith('/')) folder.pathname += '/';
      const base = new URL('.', folder).href;
      const model = challenger && inShare(visitor + challenger, text(settings.challenger_share)) ? challenger
        : text(settings.model);
      const element = document.getElementById(model.replace(/^#/, ''));
      const inline = element && element.tagName == 'SCRIPT' ? element.textContent : null;
      const json = inline != null || /\.json([?#]|$)/.test(model);
      const debug = flag(settings.debug) || /[?&]leadscore_debug=1/.test(location.search);
      const [kernel, wasm, source, tools] = await Promise.all([
        import(base + 'leadscore_wasm.js'),
        // Compiling while downloading needs the right MIME type; otherwise, from the bytes.
        get(base + 'leadscore_wasm_bg.wasm').then((r) =>
          /^application\/wasm/.test(r.headers.get('content-type')) ? r : r.arrayBuffer()),
        inline != null ? inline : get(model).then((r) => (json ? r.text() : r.arrayBuffer())),
        (json || debug) && import(base + 'leadscore-debug.js'),
      ]);
      const bytes = json ? await tools.compile(base, source) : new Uint8Array(source);
      await kernel.default({ module_or_path: wasm });
      const code = kernel.load(bytes);
      if (code) throw Error(`the compiled model ${model} is not usable: ${UNUSABLE[code] || code}`);
      if (json) console.info('leadscore: a JSON model is compiled in the page; `leadscore build` makes it lighter');
      run = start(kernel, debug && tools, visitor);
      phase = 2;
      for (const args of queue.splice(0)) leadscore(...args);
    } catch (e) {
      const message = String((e && e.message) || e);
      off(/widget is off/.test(message) ? message : message + ' (the widget is off)');
    }
  }

  /** Starts the widget on a loaded kernel; returns its commands. */
  function start(k, tools, visitor) {
    const model = parseJSON(new TextDecoder().decode(k.describe()));
    const names = ['unqualified', ...model.tiers];
    const endpoint = text(settings.endpoint);
    const field = text(settings.field);
    const sendScores = flag(settings.send_scores);
    const sendRules = flag(settings.send_rules);
    // Global Privacy Control or Do Not Track, honoured: scoring stays in the page.
    const privacy = !/^ignore$/i.test(text(settings.privacy_signals)) &&
      (navigator.globalPrivacyControl === true || [navigator.doNotTrack, window.doNotTrack].includes('1'));
    const storageFailed = () => warn('storage is unavailable: the score is kept for this page only');
    let consented = !required();
    let agreed; // true: the page called leadscore('consent', true)
    let store = openStore(consented, storageFailed);
    let record = freshRecord(visitor);
    let tier = 0; // index in `names`
    let stopped; // true after `forget`, here or in another tab
    let known; // the stored text as this tab last read or wrote it (none: null or undefined)
    const pending = []; // events seen before consent
    const callbacks = [];
    let lastPage;
    let visibleSince; // start of the visible, active time not yet reported (none: hidden or idle)
    let active = Date.now(); // the visitor's last input
    let inFlight; // event_id of the result being posted
    const leaving = new Set(); // event_ids posted while the page was hidden or going away
    let retry;
    const panel = tools && tools.panel();
    if (panel) stops.push(panel.remove);

    const maySend = () => consented && !stopped && !privacy && endpoint;

    /**
     * Brings the record and the kernel up to date with what is stored, before every change: what
     * another tab wrote since is taken in (tabs add up, and a change to the outbox is made by
     * event_id on what is stored); a record that another tab erased (forget, consent withdrawn)
     * stops this tab too. A stored record that is unusable is replaced by this tab's own (at
     * start, a fresh visitor).
     */
    const read = () => {
      const text = store.read();
      if (text == known) return;
      if (text == null) return forget(1);
      known = text;
      const r = parseRecord(text);
      const state = r && fromBase64(r.state);
      if (state && k.restore(state)) record = r;
      else k.restore(fromBase64(record.state));
      tier = k.explain(Date.now())[6];
      refresh();
    };
    const save = () => {
      record.state = toBase64(k.state());
      store.write((known = recordText(record)));
    };
    /** Shows the current tier in the hidden fields (not before consent). */
    const refresh = () => {
      if (field && consented) fill(field, names[tier]);
    };

    /**
     * The rule summary of an explanation: rule id -> [times fired, points now (rounded)], highest
     * points first, at most 128 rules and about 6 KB (what the collector accepts).
     */
    const summary = (contributions) => {
      const rules = {};
      let size = 0;
      for (const c of contributions.slice(0, 128)) {
        if ((size += c.rule.length + 24) > 6000) break;
        rules[c.rule] = [c.times, Math.round(c.points)];
      }
      return rules;
    };

    /** The score now and the contributions that explain it. */
    const explanation = (now) => {
      const x = k.explain(now);
      const result = { ...Object.fromEntries(SCORES.map((name, i) => [name, x[i]])), tier: names[x[6]],
        previous_tier: names[x[7]], probability: x[5], visits: x[8], seconds: x[9], contributions: [] };
      // No probability without a model of it (NaN).
      if (x[5] != x[5]) delete result.probability;
      for (let i = 10; i < x.length; i += 5) {
        result.contributions.push({ rule: model.rules[x[i]], dimension: SCORES[x[i + 1]], points: x[i + 2],
          times: x[i + 3], decayed: x[i + 4] });
      }
      return result;
    };

    /** Scores one event; on a tier change queues the result and tells the page. */
    const apply = (event, now = Date.now()) => {
      read();
      if (stopped) return;
      if (!consented) {
        if (pending.length < 64) pending.push([event, now]);
        return;
      }
      const result = k.apply(encodeEvent(event, 1), now);
      if (result < 0) return;
      tier = result & 255;
      const change = tier != result >> 8 && { tier: names[tier], previous_tier: names[result >> 8] };
      if (change && maySend()) {
        const x = (sendScores || sendRules) && explanation(now);
        // The oldest go first beyond MAX_OUTBOX.
        record.outbox = [...record.outbox, payload(change, model, record, now, sendScores ? pick(x, SCORES) : undefined,
          sendRules && agreed && record.lead ? summary(x.contributions) : undefined)].slice(-MAX_OUTBOX);
      }
      save();
      flush(DUE, now);
      if (panel) panel.show(explanation(now));
      if (change) {
        refresh();
        announce(change, callbacks.slice(), privacy);
      }
    };

    /** A page view, unless the page (as the model sees it) did not change. */
    const page = (now = Date.now()) => {
      const query = keptQuery(location.search, model.query);
      const key = toJSON([location.pathname, query]);
      if (key == lastPage) return;
      lastPage = key;
      apply({ type: 'page_view', path: location.pathname, query }, now);
    };

    /**
     * Reports the visible time since the last report, up to IDLE after the visitor's last input;
     * past that, time on site pauses until the next input.
     */
    const engage = (now = Date.now()) => {
      const end = Math.min(now, active + IDLE);
      const seconds = (end - visibleSince) / 1000;
      if (seconds >= 1) {
        visibleSince = end;
        apply({ type: 'engagement', seconds: Math.min(seconds, 86400) }, now);
      }
      if (end < now) visibleSince = undefined;
    };

    /**
     * Sends what is waiting: one at a time, each answer awaited; all at once when the page is
     * hidden or going away.
     */
    const flush = (when, now = Date.now()) => {
      read();
      const outbox = record.outbox;
      if (!maySend() || !outbox.length) return;
      if (when == LEAVING || document.hidden) {
        // Posted with keepalive, which outlives the page (and, unlike sendBeacon, sends no
        // cookie and no page URL). Each result stays in the outbox until its answer arrives, on
        // this page if it lives on, or it is posted again from the next one (same event_id).
        // Results that already failed wait for a visible page.
        if (!record.attempts) {
          for (const p of outbox) {
            if (p.event_id == inFlight || leaving.has(p.event_id)) continue;
            leaving.add(p.event_id);
            post(endpoint, p).then(guard((outcome) => outcome != FAILED && settle(p.event_id, outcome)));
          }
        }
        return;
      }
      if (inFlight || (when == DUE && now < record.retry_at)) return;
      const id = (inFlight = outbox[0].event_id);
      // Other tabs wait while this one posts (until it answers, or at most TIMEOUT).
      record.retry_at = Date.now() + TIMEOUT;
      save();
      post(endpoint, outbox[0]).then(guard((outcome) => delivered(id, outcome)));
    };

    /** How a post ended: accepted or refused, the result leaves the outbox; failed, it waits. */
    const delivered = (id, outcome) => {
      if (inFlight == id) inFlight = undefined;
      read();
      if (!maySend()) return; // forgotten, or consent withdrawn, meanwhile
      if (outcome == FAILED) {
        const delay = backoff((record.attempts = (record.attempts || 0) + 1));
        record.retry_at = Date.now() + delay;
        warn('the tier result could not be delivered; it is kept and retried');
        clearTimeout(retry);
        // NOW: a clock set back meanwhile must not leave the result waiting for ever.
        retry = setTimeout(guard(() => flush(NOW)), delay);
        save();
      } else {
        settle(id, outcome);
        flush(DUE);
      }
    };

    /** An answer arrived: the result leaves the outbox (accepted, or refused for good). */
    const settle = (id, outcome) => {
      read();
      if (outcome == REFUSED) warn('the backend refused a tier result; it is dropped, not retried');
      record.outbox = record.outbox.filter((p) => p.event_id != id);
      record.attempts = record.retry_at = 0;
      save();
    };

    /** Erases the record (`here`: in storage too): a fresh visitor, kept in memory only. */
    const erase = (here) => {
      if (here) store.clear();
      store = openStore(false);
      known = null;
      record = freshRecord();
      k.reset();
      tier = 0;
      pending.length = 0;
      clearTimeout(retry);
    };

    /** `true` gives consent, `false` withdraws it (erasing what was stored); anything else is ignored. */
    const consent = (granted) => {
      if (typeof granted != 'boolean' || stopped) return;
      agreed = granted;
      if (granted == consented) return;
      consented = granted;
      if (granted) {
        const lead = record.lead; // an identify before consent is kept
        store = openStore(true, storageFailed);
        read();
        if (lead && !record.lead) record.lead = lead;
        for (const [event, at] of pending.splice(0)) apply(event, at);
        save();
        refresh();
        flush(NOW);
      } else {
        erase(1);
        if (field) fill(field, names[0]);
      }
    };

    /** Erases the record and stops this tab for the rest of the page (`elsewhere`: another tab did). */
    const forget = (elsewhere) => {
      erase(!elsewhere);
      refresh();
      stopped = true;
    };

    // Without a prototype: only these names are commands.
    const commands = {
      __proto__: null,
      track(name, properties) {
        if (!text(name)) return;
        const props = {};
        for (const [key, v] of Object.entries(Object(properties))) {
          if (Number.isFinite(v) || typeof v == 'string' || typeof v == 'boolean') props[key] = v;
        }
        apply({ type: 'custom', name: text(name), properties: props });
      },
      identify(id) {
        read();
        if (typeof id != 'string' || !isLeadId((id = id.trim())) || stopped) return;
        record.lead = id;
        if (consented) save();
      },
      consent,
      forget: () => forget(),
      on(type, callback) {
        if (type == 'tier' && typeof callback == 'function' && callbacks.length < 32) callbacks.push(callback);
      },
      explain() {
        read();
        const x = explanation(Date.now());
        if (tools) console.table(x.contributions);
        return x;
      },
      page: () => page(),
    };

    // Listeners, timers and the observer: all undone when the widget is switched off.
    const controller = new AbortController();
    /**
     * Listens to each of the space-separated `types` on `target`, in the capture phase: before
     * the page's own listeners can stop an event (and `scroll` of any element is seen).
     */
    const listen = (types, fn, target = document) => {
      for (const type of types.split(' ')) {
        target.addEventListener(type, guard(fn), { capture: true, signal: controller.signal });
      }
    };
    const interval = setInterval(guard(() => !document.hidden && engage()), 15000);
    // Forms that builders insert after the page loaded get the tier too.
    const observer = new MutationObserver(guard(refresh));
    if (field) observer.observe(document.documentElement, { childList: true, subtree: true });
    stops.push(() => {
      controller.abort();
      clearInterval(interval);
      clearTimeout(retry);
      observer.disconnect();
    });

    // A middle click opens the link in a new tab without a `click` event.
    listen('click auxclick', (e) => {
      const link = e.target.closest && e.target.closest('a[href]');
      const url = link && download(link, (path) => k.is_download(utf8.encode(path)));
      if (url) apply({ type: 'download', url });
    });
    listen('change', (e) => {
      const event = answer(e.target, model.questions);
      if (event) apply(event);
    });
    listen('submit', (e) => {
      const now = Date.now();
      for (const event of submission(e.target, model.questions)) apply(event, now);
    });
    /** The page is hidden or going away: visible time so far is reported, results leave. */
    const hidden = (when) => {
      engage();
      visibleSince = undefined;
      flush(when);
    };
    listen('visibilitychange', () => {
      if (document.hidden) return hidden(NOW);
      visibleSince = active = Date.now();
      flush(DUE);
    });
    // Input of any kind (pointer events cover mouse, pen and touch): the visitor is there, and
    // time on site resumes after a pause.
    listen('pointerdown pointermove keydown scroll', () => {
      active = Date.now();
      if (visibleSince == null && !document.hidden) visibleSince = active;
    });
    listen('pagehide', () => hidden(LEAVING), window);
    listen('popstate', commands.page, window);
    // Another tab wrote or erased the record.
    listen('storage', read, window);
    listen('online', () => flush(NOW), window);

    // Single-page apps: navigation with the History API counts as a page view. Where History
    // cannot be changed (frozen), only that is lost.
    const navigated = guard(commands.page);
    for (const method of ['pushState', 'replaceState']) {
      attempt(() => {
        const original = history[method];
        history[method] = function () {
          const result = original.apply(this, arguments);
          navigated();
          return result;
        };
      });
    };

    const now = Date.now();
    read();
    if (!document.hidden) visibleSince = now;
    page(now);
    performance.mark('leadscore:ready');
    if (panel) panel.show(explanation(now));
    refresh();
    flush(NOW);

    return commands;
  }

  // Calls made before this script arrived, 'init' among them.
  for (const args of queue.splice(0)) leadscore(...args);
  boot();
}
