// The debug module, loaded only when it is needed: the panel (data-debug, ?leadscore_debug=1) and
// the compiler of JSON models (a model given as JSON instead of `leadscore build` output).

/**
 * Compiles a model's JSON text with the debug build of the engine (in `base`), as `leadscore
 * build` does. Throws the list of problems, one per line with its path, when the model is invalid.
 */
export async function compile(base, text) {
  const url = base + 'leadscore_debug_bg.wasm';
  const [engine, wasm] = await Promise.all([import(base + 'leadscore_debug.js'), fetch(url)]);
  if (!wasm.ok) throw Error(`${url}: HTTP ${wasm.status}`);
  // Compiling while downloading needs the right MIME type; otherwise, from the bytes.
  const type = wasm.headers.get('content-type');
  await engine.default({ module_or_path: /^application\/wasm/.test(type) ? wasm : await wasm.arrayBuffer() });
  try {
    return engine.compile(text);
  } catch (problems) {
    throw Error('the model is invalid, so the widget is off:\n  ' + String(problems).split('\n').join('\n  '));
  }
}

const STYLE = ':host{all:initial}div{position:fixed;right:8px;bottom:8px;z-index:2147483647;' +
  'max-width:340px;max-height:60vh;overflow:auto;background:#111827;color:#f9fafb;' +
  'font:12px/1.4 ui-monospace,monospace;padding:8px 10px;border-radius:6px;box-shadow:0 4px 12px #0005;' +
  'opacity:.95}b{color:#fbbf24}pre{margin:4px 0 0;white-space:pre-wrap}';

const round = (n) => Math.round(n * 10) / 10;

/** An explanation (what `leadscore('explain')` returns) as a few lines of text. */
export function describe(x) {
  let text = '';
  for (const name of ['fit', 'engagement', 'intent', 'product', 'total']) text += `${name}: ${round(x[name])}\n`;
  for (const c of x.contributions) {
    text += `  ${c.rule} ${c.dimension} ${c.points < 0 ? '' : '+'}${round(c.points)}\n`;
  }
  return text;
}

/**
 * Adds the panel to the page: a fixed box in a shadow root (the host's CSS cannot touch it, its
 * CSS cannot touch the host), built node by node so that Trusted Types policies do not object.
 */
export function panel() {
  const host = document.createElement('div');
  host.id = 'leadscore-debug';
  const root = host.attachShadow({ mode: 'open' });
  const add = (tag, parent, text) => {
    const el = document.createElement(tag);
    el.textContent = text;
    parent.append(el);
    return el;
  };
  add('style', root, STYLE);
  const box = add('div', root, 'leadscore ');
  box.setAttribute('role', 'status');
  const tier = add('b', box, '');
  const scores = add('pre', box, '');
  (document.body || document.documentElement).append(host);
  return {
    /** Shows an explanation. */
    show(x) {
      tier.textContent = x.tier;
      scores.textContent = describe(x);
    },
    remove: () => host.remove(),
  };
}
