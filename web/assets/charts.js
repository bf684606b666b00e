// hyperhive charts: fills every <figure data-chart="{…}"> with a uPlot chart of /api/stats series
// (the last hour, one-minute buckets) and refetches them when the page refreshes live (app.js's
// 'hh:refreshed' after an SSE event) and every 15 s. Needs /vendor/uPlot.iife.min.js loaded first.
(function () {
  'use strict';
  if (!window.uPlot) return;
  var WINDOW_MS = 3600 * 1000;
  var STEP_MS = 60 * 1000;
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
  var charts = [];

  function specOf(fig) {
    try { return JSON.parse(fig.getAttribute('data-chart')); } catch (e) { return null; }
  }

  function url(s, since, until) {
    var q = 'agent=' + encodeURIComponent(s.agent) + '&key=' + encodeURIComponent(s.key) + '&since=' + since + '&until=' + until + '&step=' + STEP_MS;
    if (s.agg) q += '&agg=' + encodeURIComponent(s.agg);
    return '/api/stats?' + q;
  }

  // Durations are stored in ms and shown in s.
  function scale(s, v) { return s.key === 'turn_duration_ms' || s.key === 'since_last_turn_ms' ? v / 1000 : v; }

  /** uPlot's columnar data: the union of the series' bucket times (seconds), nulls where one has no point. */
  function align(spec, answers) {
    var xs = {};
    answers.forEach(function (a) { a.points.forEach(function (p) { xs[p[0]] = true; }); });
    var times = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var data = [times.map(function (t) { return t / 1000; })];
    var withData = 0;
    answers.forEach(function (a, i) {
      var byT = {};
      a.points.forEach(function (p) { byT[p[0]] = p[1]; });
      data.push(times.map(function (t) {
        if (!(t in byT) || byT[t] === null || isNaN(byT[t])) return null;
        // Sums and counts are 0 in every empty bucket: only non-zero ones are data; for gauges 0 is a reading.
        var dense = spec.series[i].agg === 'sum' || spec.series[i].agg === 'count';
        if (!dense || byT[t] !== 0) withData++;
        return scale(spec.series[i], byT[t]);
      }));
    });
    return { data: data, withData: withData };
  }

  function create(entry, data) {
    var fig = entry.fig;
    var spec = entry.spec;
    var plot = fig.querySelector('.hh-chart-plot');
    var width = Math.max(240, plot.clientWidth || fig.clientWidth || 320);
    return new window.uPlot({
      width: width, height: 160,
      legend: { show: spec.series.length > 1 },
      // No drag-zoom; and a click that moved a pixel (or whose chart redrew under it) is still a click:
      // uPlot would swallow it as the end of a drag, and the point's link with it.
      cursor: { drag: { x: false, y: false, click: function () {} } },
      // Always the whole window, so one bucket of data does not stretch over the axis.
      // Every series here is a count, a cost, a depth or a duration: the y axis starts at 0, so a
      // steady reading is a flat line at its height, not a zoomed-in band with repeated labels.
      scales: {
        x: { time: true, range: function () { return [entry.since / 1000, entry.until / 1000]; } },
        y: { range: function (u, min, max) { return [0, max !== null && max > 0 ? max * 1.1 : 1]; } },
      },
      series: [{}].concat(spec.series.map(function (s, i) {
        return { label: s.label || s.key, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, points: { show: true, size: 3 } };
      })),
      axes: [{ stroke: '#6b7280' }, { stroke: '#6b7280', size: 50 }],
    }, data, plot);
  }

  // A chart whose spec links to its turns: a click on a bucket with data opens the turns of that bucket.
  function linkPoints(entry) {
    var spec = entry.spec;
    if (!spec.link) return;
    entry.fig.classList.add('hh-chart-linked');
    entry.plot.over.addEventListener('click', function () {
      var u = entry.plot;
      var idx = u.cursor.idx;
      if (idx === null || idx === undefined) return;
      var hasData = u.data.slice(1).some(function (s) { return s[idx] !== null && s[idx] !== undefined && s[idx] !== 0; });
      if (!hasData) return;
      var t = Math.round(u.data[0][idx] * 1000);
      location.href = spec.link + '?since=' + t + '&until=' + (t + STEP_MS);
    });
  }

  function load(entry) {
    var until = Date.now() + 1;
    var since = until - WINDOW_MS;
    entry.since = since;
    entry.until = until;
    return Promise.all(entry.spec.series.map(function (s) {
      return fetch(url(s, since, until), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); });
    })).then(function (answers) {
      var a = align(entry.spec, answers);
      if (!entry.plot) { entry.plot = create(entry, a.data); linkPoints(entry); }
      else entry.plot.setData(a.data);
      entry.fig.setAttribute('data-points', String(a.withData));
      entry.fig.classList.toggle('hh-chart-has-data', a.withData > 0);
      entry.fig.classList.remove('hh-chart-error');
    }).catch(function (e) {
      entry.fig.classList.add('hh-chart-error');
      entry.fig.setAttribute('data-error', e.message);
    });
  }

  function refreshAll() {
    if (document.hidden) return;
    charts.forEach(load);
  }

  var figs = document.querySelectorAll('figure[data-chart]');
  for (var i = 0; i < figs.length; i++) {
    var spec = specOf(figs[i]);
    if (spec && spec.series && spec.series.length) charts.push({ fig: figs[i], spec: spec, plot: null });
  }
  if (!charts.length) return;
  refreshAll();

  var pending = null;
  document.addEventListener('hh:refreshed', function () {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refreshAll(); }, 1000);
  });
  setInterval(refreshAll, 15000);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refreshAll(); });
  window.addEventListener('resize', function () {
    charts.forEach(function (c) {
      if (!c.plot) return;
      var w = c.fig.querySelector('.hh-chart-plot').clientWidth;
      if (w > 0) c.plot.setSize({ width: w, height: 160 });
    });
  });
  window.hyperhiveCharts = { refresh: refreshAll, charts: charts };
})();
