// Collector dashboard: reads GET /v1/summary and GET /v1/summary/truth and draws them. No
// dependencies, no CDN.
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#2f6fdf', '#e08a1e', '#2a9d6a', '#b54ac9', '#d64550', '#3fa7b8', '#8c6d3a'];
  var REFRESH_MS = 5000;
  // The tier truth reads every result and outcome: less often.
  var TRUTH_REFRESH_MS = 30000;
  var FLAG_TEXT = { drift: 'drift', acceptance_falling: 'acceptance falling' };

  // A stable colour per tier name; `unqualified` is grey.
  var colours = {};
  function colour(tier) {
    if (tier === 'unqualified') return '#a4abba';
    if (!colours[tier]) colours[tier] = PALETTE[Object.keys(colours).length % PALETTE.length];
    return colours[tier];
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function swatch(tier) {
    var s = el('span', { class: 'swatch' });
    s.style.background = colour(tier);
    return s;
  }

  // Tiers in a useful order: as first seen in the data, `unqualified` last.
  function tierOrder(summary) {
    var names = [];
    summary.tiers.forEach(function (t) { if (names.indexOf(t.tier) < 0) names.push(t.tier); });
    summary.days.forEach(function (d) {
      Object.keys(d.tiers).forEach(function (t) { if (names.indexOf(t) < 0) names.push(t); });
    });
    names.sort(function (a, b) { return (a === 'unqualified') - (b === 'unqualified') || (a < b ? -1 : a > b ? 1 : 0); });
    names.forEach(colour);
    return names;
  }

  function renderCards(summary) {
    var box = document.getElementById('tier-cards');
    box.textContent = '';
    if (!summary.tiers.length) box.appendChild(el('p', { class: 'empty' }, 'No tier results yet.'));
    summary.tiers.forEach(function (t) {
      var card = el('div', { class: 'card', 'data-tier': t.tier });
      var name = el('div', { class: 'name' });
      name.appendChild(swatch(t.tier));
      name.appendChild(document.createTextNode(t.tier));
      card.appendChild(name);
      card.appendChild(el('div', { class: 'count', 'data-field': 'current_visitors' }, t.current_visitors));
      card.appendChild(el('div', { class: 'sub' }, 'visitors now · ' + t.results + ' results'));
      box.appendChild(card);
    });
  }

  // Stacked bars: one per day, one segment per tier.
  function renderChart(summary, tiers) {
    var days = summary.days;
    var width = 1000, height = 260, left = 40, bottom = 28, top = 10;
    var plotH = height - bottom - top;
    var max = 1;
    days.forEach(function (d) { if (d.total > max) max = d.total; });
    var step = niceStep(max);
    var axisMax = Math.ceil(max / step) * step;
    var slot = (width - left - 10) / Math.max(days.length, 1);
    var bar = Math.max(2, slot * 0.7);

    var root = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': 'Tier results per day', id: 'chart-svg' });
    for (var v = 0; v <= axisMax; v += step) {
      var y = top + plotH - (v / axisMax) * plotH;
      root.appendChild(svg('line', { x1: left, x2: width - 10, y1: y, y2: y, stroke: '#e3e6ee' }));
      root.appendChild(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, v));
    }
    days.forEach(function (d, i) {
      var x = left + i * slot + (slot - bar) / 2;
      var y = top + plotH;
      tiers.forEach(function (tier) {
        var n = d.tiers[tier] || 0;
        if (!n) return;
        var h = (n / axisMax) * plotH;
        y -= h;
        var rect = svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: bar.toFixed(1), height: h.toFixed(1),
          fill: colour(tier), 'data-day': d.day, 'data-tier': tier, 'data-count': n });
        rect.appendChild(svg('title', {}, d.day + ': ' + n + ' × ' + tier));
        root.appendChild(rect);
      });
      if (i % Math.ceil(days.length / 10) === 0 || i === days.length - 1) {
        root.appendChild(svg('text', { x: x + bar / 2, y: height - 8, 'text-anchor': 'middle' }, d.day.slice(5)));
      }
    });
    var box = document.getElementById('chart');
    box.textContent = '';
    box.appendChild(root);

    var legend = document.getElementById('legend');
    legend.textContent = '';
    tiers.forEach(function (tier) {
      var item = el('span');
      item.appendChild(swatch(tier));
      item.appendChild(document.createTextNode(' ' + tier));
      legend.appendChild(item);
    });
  }

  function niceStep(max) {
    var raw = max / 4;
    var mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return Math.max(1, steps[i] * mag);
    return Math.max(1, 10 * mag);
  }

  function renderLatest(summary) {
    var body = document.querySelector('#latest tbody');
    body.textContent = '';
    if (!summary.latest.length) {
      var row = el('tr');
      row.appendChild(el('td', { colspan: 5, class: 'empty' }, 'No tier results yet.'));
      body.appendChild(row);
    }
    summary.latest.forEach(function (t) {
      var row = el('tr', { 'data-visitor': t.visitor_id, 'data-tier': t.tier });
      row.appendChild(el('td', {}, t.at.replace('T', ' ').replace(/\.\d+Z$/, '')));
      row.appendChild(el('td', {}, t.visitor_id.length > 14 ? t.visitor_id.slice(0, 12) + '…' : t.visitor_id));
      row.appendChild(el('td', {}, t.lead_id || ''));
      var change = el('td', { class: 'transition' });
      change.appendChild(document.createTextNode(t.previous_tier + ' → '));
      change.appendChild(swatch(t.tier));
      change.appendChild(document.createTextNode(' ' + t.tier));
      row.appendChild(change);
      row.appendChild(el('td', {}, t.model_id + ' ' + t.model_version));
      body.appendChild(row);
    });
  }

  function renderVersions(summary) {
    var body = document.querySelector('#versions tbody');
    body.textContent = '';
    summary.model_versions.forEach(function (v) {
      var row = el('tr', { 'data-model': v.model_id, 'data-version': v.model_version });
      row.appendChild(el('td', {}, v.model_id));
      row.appendChild(el('td', {}, v.model_version));
      row.appendChild(el('td', {}, v.first_at.slice(0, 10) + ' – ' + v.last_at.slice(0, 10)));
      row.appendChild(el('td', { class: 'num' }, v.visitors));
      row.appendChild(el('td', { class: 'num' }, v.results));
      var tiers = el('td');
      Object.keys(v.tiers).forEach(function (tier) {
        var share = v.results ? Math.round((100 * v.tiers[tier]) / v.results) : 0;
        var item = el('span', { 'data-tier': tier });
        item.appendChild(swatch(tier));
        item.appendChild(document.createTextNode(' ' + tier + ' ' + v.tiers[tier] + ' (' + share + '%)  '));
        tiers.appendChild(item);
      });
      row.appendChild(tiers);
      body.appendChild(row);
    });
  }

  function renderForwarding(f) {
    var text = !f.enabled ? 'Off (start the server with --forward URL to post each result to a webhook).'
      : f.delivered + ' delivered, ' + f.pending + ' waiting' + (f.last_error ? ' — last error: ' + f.last_error : '.');
    document.getElementById('forwarding').textContent = text;
  }

  function render(summary) {
    document.getElementById('total-results').textContent = summary.total_results;
    document.getElementById('generated-at').textContent = summary.generated_at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    var tiers = tierOrder(summary);
    renderCards(summary);
    renderChart(summary, tiers);
    renderLatest(summary);
    renderVersions(summary);
    renderForwarding(summary.forwarding);
    document.body.setAttribute('data-loaded', 'true');
  }

  function load() {
    fetch('/v1/summary', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('GET /v1/summary answered ' + r.status); return r.json(); })
      .then(function (summary) {
        document.getElementById('error').hidden = true;
        render(summary);
      })
      .catch(function (e) {
        var box = document.getElementById('error');
        box.textContent = 'Cannot load the summary: ' + e.message;
        box.hidden = false;
      })
      .then(function () { setTimeout(load, REFRESH_MS); });
  }

  function percent(x) {
    return x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%';
  }

  // Weekly conversion rate per tier: one line per tier over the weeks that had leads.
  function weeklyChart(version) {
    var width = 1000, height = 200, left = 44, bottom = 26, top = 10;
    var plotH = height - bottom - top;
    var weeks = version.tiers.length ? version.tiers[0].weeks : [];
    var slot = (width - left - 10) / Math.max(weeks.length - 1, 1);
    var root = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', class: 'truth-chart',
      'aria-label': 'Conversion rate per week and tier, ' + version.model_id + ' ' + version.model_version });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      var y = top + plotH - v * plotH;
      root.appendChild(svg('line', { x1: left, x2: width - 10, y1: y, y2: y, stroke: '#e3e6ee' }));
      root.appendChild(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, Math.round(v * 100) + '%'));
    });
    weeks.forEach(function (w, i) {
      if (i % 4 === 0 || (i === weeks.length - 1 && i % 4 >= 2)) {
        root.appendChild(svg('text', { x: left + i * slot, y: height - 6, 'text-anchor': 'middle' }, w.week.slice(5)));
      }
    });
    version.tiers.forEach(function (t) {
      var points = [];
      t.weeks.forEach(function (w, i) {
        if (!w.leads) return;
        var x = left + i * slot, y = top + plotH - (w.converted / w.leads) * plotH;
        points.push(x.toFixed(1) + ',' + y.toFixed(1));
        var dot = svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, fill: colour(t.tier),
          'data-tier': t.tier, 'data-week': w.week });
        dot.appendChild(svg('title', {}, t.tier + ', week of ' + w.week + ': ' + w.converted + ' of ' + w.leads + ' converted'));
        root.appendChild(dot);
      });
      if (points.length > 1) {
        root.appendChild(svg('polyline', { points: points.join(' '), fill: 'none', stroke: colour(t.tier), 'stroke-width': 2 }));
      }
    });
    var box = el('div', { class: 'chart' });
    box.appendChild(root);
    return box;
  }

  function renderTruth(truth) {
    var box = document.getElementById('truth');
    box.textContent = '';
    if (!truth.model_versions.length) {
      box.appendChild(el('p', { class: 'empty' }, 'No tier results yet.'));
      return;
    }
    if (truth.unmatched_outcomes) {
      box.appendChild(el('p', { class: 'hint' }, truth.unmatched_outcomes +
        ' outcome(s) wait for their lead\'s first tier result.'));
    }
    truth.model_versions.forEach(function (v) {
      var part = el('div', { class: 'truth-version', 'data-model': v.model_id, 'data-version': v.model_version });
      part.appendChild(el('h3', {}, v.model_id + ' ' + v.model_version + ' — ' + v.leads + ' leads, base rate ' +
        percent(v.base_rate)));
      var table = el('table', { class: 'truth' });
      var head = el('tr');
      ['Tier', 'Leads', 'Accepted', 'Converted', 'Conversion (95% CI)', 'Lift', 'Median days', 'Expected', 'Flags']
        .forEach(function (name, i) { head.appendChild(el('th', i > 0 && i < 8 ? { class: 'num' } : {}, name)); });
      table.appendChild(el('thead')).appendChild(head);
      var body = el('tbody');
      v.tiers.forEach(function (t) {
        var row = el('tr', { 'data-tier': t.tier });
        var name = el('td');
        name.appendChild(swatch(t.tier));
        name.appendChild(document.createTextNode(' ' + t.tier));
        row.appendChild(name);
        row.appendChild(el('td', { class: 'num' }, t.leads));
        row.appendChild(el('td', { class: 'num' }, t.accepted + ' (' + percent(t.acceptance_rate) + ')'));
        row.appendChild(el('td', { class: 'num' }, t.converted));
        var rate = el('td', { class: 'num', 'data-field': 'conversion_rate' }, percent(t.conversion_rate) + ' ');
        if (t.interval) rate.appendChild(el('span', { class: 'ci' }, percent(t.interval[0]) + '–' + percent(t.interval[1])));
        row.appendChild(rate);
        row.appendChild(el('td', { class: 'num' }, t.lift === null ? '–' : t.lift.toFixed(2) + '×'));
        row.appendChild(el('td', { class: 'num' }, t.median_days_to_conversion === null ? '–' : t.median_days_to_conversion.toFixed(1)));
        row.appendChild(el('td', { class: 'num' }, t.expected_rate === null ? '–'
          : percent(t.expected_rate) + ' (' + t.expected_leads + ' leads)'));
        var flags = el('td');
        t.flags.forEach(function (f) { flags.appendChild(el('span', { class: 'flag', 'data-flag': f }, FLAG_TEXT[f] || f)); });
        row.appendChild(flags);
        body.appendChild(row);
      });
      table.appendChild(body);
      part.appendChild(table);
      part.appendChild(weeklyChart(v));
      box.appendChild(part);
    });
  }

  function variantName(v) { return v.model_id + ' ' + v.model_version; }

  function renderComparisons(truth) {
    var box = document.getElementById('comparisons');
    box.textContent = '';
    if (!truth.comparisons || !truth.comparisons.length) {
      box.appendChild(el('p', { class: 'empty' }, 'No two model versions to compare yet.'));
      return;
    }
    truth.comparisons.forEach(function (c) {
      var part = el('div', { class: 'comparison', 'data-variants': c.variants.map(variantName).join(' vs ') });
      part.appendChild(el('h3', {}, c.variants.map(variantName).join(' vs ')));
      part.appendChild(el('p', { class: c.verdict ? 'verdict' : 'hint', 'data-field': 'summary' }, c.summary));
      if (!c.same_period) {
        part.appendChild(el('p', { class: 'hint' }, 'These versions did not run at the same time: every lead counts.'));
      } else if (c.period) {
        part.appendChild(el('p', { class: 'hint' }, 'Leads that entered from ' + c.period[0] + ' to ' + c.period[1] + '.'));
      }
      var table = el('table', { class: 'compare' });
      var head = el('tr');
      ['Version', 'Leads', 'Qualified conversion (95% CI)', 'Tiers: share · conversion (95% CI)', 'Higher tiers convert more']
        .forEach(function (name, i) { head.appendChild(el('th', i > 0 && i < 3 ? { class: 'num' } : {}, name)); });
      table.appendChild(el('thead')).appendChild(head);
      var body = el('tbody');
      c.variants.forEach(function (v) {
        var row = el('tr', { 'data-model': v.model_id, 'data-version': v.model_version });
        row.appendChild(el('td', {}, variantName(v)));
        row.appendChild(el('td', { class: 'num' }, v.leads + ' (' + v.qualified_leads + ' qualified)'));
        var rate = el('td', { class: 'num' }, percent(v.qualified_rate) + ' ');
        if (v.qualified_interval) {
          rate.appendChild(el('span', { class: 'ci' }, percent(v.qualified_interval[0]) + '–' + percent(v.qualified_interval[1])));
        }
        row.appendChild(rate);
        var tiers = el('td');
        v.tiers.forEach(function (t) {
          var line = el('div', { 'data-tier': t.tier });
          line.appendChild(swatch(t.tier));
          line.appendChild(document.createTextNode(' ' + t.tier + ': ' + percent(t.share) + ' · ' + percent(t.conversion_rate) + ' '));
          if (t.interval) line.appendChild(el('span', { class: 'ci' }, percent(t.interval[0]) + '–' + percent(t.interval[1])));
          tiers.appendChild(line);
        });
        row.appendChild(tiers);
        row.appendChild(el('td', {}, v.ordered === null ? '–' : v.ordered ? 'yes' : 'no'));
        body.appendChild(row);
      });
      table.appendChild(body);
      part.appendChild(table);
      box.appendChild(part);
    });
  }

  // The pair typed into the form (`ID@VERSION,ID@VERSION`), or '' for the default pairs.
  var compareQuery = '';

  function loadTruth() {
    var url = '/v1/summary/truth' + (compareQuery ? '?compare=' + encodeURIComponent(compareQuery) : '');
    fetch(url, { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('GET ' + url + ' answered ' + r.status); return r.json(); })
      .then(function (truth) { renderTruth(truth); renderComparisons(truth); })
      .catch(function (e) {
        document.getElementById('truth').textContent = 'Cannot load the tier truth: ' + e.message;
        document.getElementById('comparisons').textContent = '';
      })
      .then(function () { clearTimeout(truthTimer); truthTimer = setTimeout(loadTruth, TRUTH_REFRESH_MS); });
  }
  var truthTimer = null;

  document.getElementById('compare-form').addEventListener('submit', function (event) {
    event.preventDefault();
    compareQuery = document.getElementById('compare-input').value.trim();
    loadTruth();
  });

  load();
  loadTruth();
})();
