// hyperhive UI: live refresh over SSE, expanding collapsed diff files. Loaded with <script src>;
// the CSP forbids inline scripts, so everything the page does in the browser lives here.
(function () {
  'use strict';

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : null;

  // ---- live sections -----------------------------------------------------------------------
  // On any event, fetch this page again and swap every [data-live] section (matched by id) that the
  // reader is not typing in. Re-rendering on the server keeps one source of truth for the markup.
  var refreshTimer = null;
  var refreshing = false;
  var again = false;

  function swapSections(doc) {
    var fresh = doc.querySelectorAll('[data-live][id]');
    for (var i = 0; i < fresh.length; i++) {
      var cur = document.getElementById(fresh[i].id);
      if (!cur) continue;
      if (cur.contains(document.activeElement) && document.activeElement !== document.body) continue;
      cur.replaceWith(document.importNode(fresh[i], true));
    }
    document.dispatchEvent(new CustomEvent('hh:refreshed'));
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(location.href, { headers: { Accept: 'text/html', 'X-HH-Refresh': '1' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text) swapSections(new DOMParser().parseFromString(text, 'text/html'));
      })
      .catch(function () { /* the next event retries */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; scheduleRefresh(); }
      });
  }

  // At most one refresh a second (trailing), so a busy fleet's stream of events cannot turn an open
  // tab into a render loop on the server.
  var MIN_INTERVAL = 1000;
  var lastRefresh = 0;
  function scheduleRefresh() {
    if (refreshTimer) return;
    var wait = Math.max(120, lastRefresh + MIN_INTERVAL - Date.now());
    refreshTimer = setTimeout(function () { refreshTimer = null; lastRefresh = Date.now(); refresh(); }, wait);
  }

  var pageAgent = document.body.getAttribute('data-agent');
  function concernsPage(ev) {
    if (!pageAgent) return true;
    try {
      var d = JSON.parse(ev.data);
      return !d || !d.agent && !d.to || d.agent === pageAgent || d.to === pageAgent || d.from === pageAgent;
    } catch (e) { return true; }
  }

  var liveUrl = document.body.getAttribute('data-live-events');
  var dot = document.getElementById('live-status');
  var es = null;
  if (liveUrl && window.EventSource) {
    es = new EventSource(liveUrl);
    es.addEventListener('open', function () { if (dot) { dot.className = 'hh-live-dot hh-live-on'; dot.title = 'live updates on'; } });
    es.addEventListener('error', function () { if (dot) { dot.className = 'hh-live-dot hh-live-off'; dot.title = 'live updates reconnecting'; } });
    ['change', 'log', 'runtime', 'message'].forEach(function (name) {
      es.addEventListener(name, function (ev) { if (concernsPage(ev)) scheduleRefresh(); });
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }

  // ---- narrow screens ------------------------------------------------------------------------
  // Two diff columns do not fit a phone: an approval page asked for without a view opens line by line.
  if (document.body.getAttribute('data-page') === 'approval' && window.innerWidth < 700 && !/[?&]view=/.test(location.search)) {
    var side = document.querySelector('.hh-diff[data-view="side"]');
    var flashArea = document.getElementById('flash');
    // Not over a flash message: it is shown once, and a reload would lose it.
    if (side && !(flashArea && flashArea.children.length)) location.replace(location.pathname + (location.search ? location.search + '&' : '?') + 'view=line' + location.hash);
  }

  // ---- collapsed diff files ----------------------------------------------------------------
  document.addEventListener('click', function (ev) {
    var btn = ev.target && ev.target.closest ? ev.target.closest('button.hh-expand') : null;
    if (!btn) return;
    var box = btn.closest('.hh-diff');
    var section = btn.closest('section.hh-file');
    if (!box || !section) return;
    var src = box.getAttribute('data-file-src') + '?path=' + encodeURIComponent(btn.getAttribute('data-path')) +
      '&view=' + encodeURIComponent(box.getAttribute('data-view') || 'side');
    btn.disabled = true;
    btn.textContent = 'Loading…';
    fetch(src, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.querySelector('section.hh-file');
        if (!fresh) throw new Error('no file in the answer');
        fresh.classList.add('hh-expanded');
        section.replaceWith(document.importNode(fresh, true));
      })
      .catch(function (e) {
        btn.disabled = false;
        btn.textContent = 'Could not load (' + e.message + '): retry';
      });
  });

  // ---- confirmations -------------------------------------------------------------------------
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  // `events`: the page's one event stream, shared with inbox.js (null where the page is not live).
  window.hyperhive = { csrf: csrf, refresh: refresh, events: es };
})();
