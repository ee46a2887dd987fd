/*! leadscore: lead scoring in the visitor's browser; only the tier result leaves the page.
 *
 * <script async src="/leadscore/leadscore.js" data-model="/leadscore/model.json"
 *         data-endpoint="https://api.example.com/v1/tier"></script>
 *
 * Settings (data-* attributes, or leadscore('init', {...})):
 *   model            URL of the model JSON, or the id of an inline <script type="application/json">
 *   endpoint         where tier results are posted (nothing is sent without it)
 *   field            name of hidden form fields that receive the tier
 *   consent          "required": nothing is stored or sent before leadscore('consent', true)
 *   privacy-signals  "ignore": send even with Global Privacy Control / Do Not Track
 *   send-scores      include the sub-scores in tier results
 *   debug            show the debug panel (also ?leadscore_debug=1)
 *
 * Calls: leadscore('track', name, props), ('identify', leadId), ('consent', bool), ('forget'),
 *        ('on', 'tier', callback), ('explain'), ('page'). Calls made before the engine is
 * ready are queued and replayed. Nothing here ever throws into the host page.
 */
(function (w, d) {
  'use strict';
  var warned = 0;
  function warn(message) {
    if (warned) return;
    warned = 1;
    try { console.warn('leadscore: ' + message); } catch (_) { /* no console */ }
  }
  function describe(e) {
    return (e && e.message) || String(e);
  }

  try {
    var existing = w.leadscore;
    if (existing && existing.loaded) return; // a second copy of the tag: harmless

    var COMMANDS = ['track', 'identify', 'consent', 'forget', 'on', 'explain', 'page'];
    var queue = (existing && existing.q) || [];
    var me = d.currentScript || d.querySelector('script[src*="leadscore.js"]');
    var base = (me && me.src) || location.href;
    var data = (me && me.dataset) || {};
    var flag = function (v) { return v != null && v !== 'false' && v !== '0'; };
    var settings = {
      model: data.model,
      endpoint: data.endpoint,
      field: data.field,
      consent: data.consent,
      privacy_signals: data.privacySignals,
      send_scores: flag(data.sendScores),
      debug: flag(data.debug)
    };
    var engine = null; // the wasm-bindgen module once started
    var state = 0;     // 0 waiting for settings, 1 loading, 2 running, 3 off

    var run = function (args) {
      var name = args[0];
      if (typeof name !== 'string' || COMMANDS.indexOf(name) < 0 || !engine) return undefined;
      return engine[name].apply(null, Array.prototype.slice.call(args, 1));
    };

    var leadscore = function () {
      try {
        if (state === 2) return run(arguments);
        if (state === 3) return undefined;
        if (arguments[0] === 'init') {
          var given = arguments[1] || {};
          for (var k in given) if (Object.prototype.hasOwnProperty.call(given, k)) settings[k] = given[k];
          boot();
        } else if (queue.length < 100) {
          queue.push(arguments);
        }
      } catch (e) {
        warn('call failed: ' + describe(e));
      }
      return undefined;
    };
    leadscore.loaded = 1;
    leadscore.q = queue;
    w.leadscore = leadscore;

    var loadModel = function (ref) {
      var inline = d.getElementById(String(ref).replace(/^#/, ''));
      if (inline && inline.tagName === 'SCRIPT') {
        return new Promise(function (ok) { ok(JSON.parse(inline.textContent)); });
      }
      return fetch(ref, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error('model ' + ref + ': HTTP ' + r.status);
        return r.json();
      });
    };

    var loadWasm = function () {
      return fetch(new URL('leadscore_wasm_bg.wasm', base).href).then(function (r) {
        if (!r.ok) throw new Error('leadscore_wasm_bg.wasm: HTTP ' + r.status);
        // instantiateStreaming needs the right MIME type; otherwise compile from the bytes.
        var type = r.headers.get('content-type') || '';
        return type.indexOf('application/wasm') === 0 && WebAssembly.instantiateStreaming ? r : r.arrayBuffer();
      });
    };

    var boot = function () {
      if (state !== 0 || !settings.model) return;
      state = 1;
      Promise.all([
        import(new URL('leadscore_wasm.js', base).href),
        loadWasm(),
        loadModel(settings.model)
      ]).then(function (parts) {
        var glue = parts[0];
        return glue.default({ module_or_path: parts[1] }).then(function () {
          glue.start(settings, parts[2]);
          engine = glue;
          state = 2;
          // Single-page apps: count navigation made with the History API.
          ['pushState', 'replaceState'].forEach(function (method) {
            var original = history[method];
            if (typeof original !== 'function') return;
            history[method] = function () {
              var result = original.apply(this, arguments);
              try { glue.page(); } catch (_) { /* never break navigation */ }
              return result;
            };
          });
          var calls = queue.splice(0, queue.length);
          for (var j = 0; j < calls.length; j++) leadscore.apply(null, calls[j]);
        });
      }).catch(function (e) {
        state = 3;
        queue.length = 0;
        warn(describe(e) + (/invalid/.test(describe(e)) ? '' : ' (the widget is off)'));
      });
    };

    // Calls made before this script arrived, 'init' among them.
    var pending = queue.splice(0, queue.length);
    for (var i = 0; i < pending.length; i++) leadscore.apply(null, pending[i]);
    boot();
  } catch (e) {
    warn('could not start: ' + describe(e));
  }
})(window, document);
