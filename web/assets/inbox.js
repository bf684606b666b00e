// hyperhive UI: the operator's inbox. The header badge counts unread messages and follows the SSE
// stream; a question (or anything from the manager) also shows a short banner linking to /inbox.
// On /inbox the answer and "mark all read" forms go to the JSON API; without this script they are
// plain forms that redirect back. Loaded with <script src> after app.js (CSP: no inline scripts).
(function () {
  'use strict';

  var badge = document.getElementById('inbox-badge');
  if (!badge) return;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : null;

  function setCount(n) {
    if (typeof n !== 'number' || n < 0 || !isFinite(n)) return;
    badge.setAttribute('data-count', String(n));
    badge.textContent = String(n);
    badge.hidden = n === 0;
  }
  function count() {
    var n = parseInt(badge.getAttribute('data-count') || '', 10);
    return isNaN(n) ? null : n;
  }

  // The bus's depth for `operator` is the truth; fetched on load where the page did not render it, and
  // after every change so acks made elsewhere (another tab, the CLI) correct the count too.
  var syncing = null;
  function sync() {
    if (syncing) return syncing;
    syncing = fetch('/api/inbox/depths', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && typeof d.operator === 'number') setCount(d.operator); })
      .catch(function () { /* no bus here, or offline: keep what is shown */ })
      .then(function () { syncing = null; });
    return syncing;
  }
  if (count() === null) sync();

  // ---- banner ----------------------------------------------------------------------------------
  var toast = null;
  var toastTimer = null;
  function showToast(d) {
    if (!toast) {
      toast = document.createElement('div');
      toast.id = 'inbox-toast';
      toast.className = 'hh-toast';
      toast.setAttribute('role', 'status');
      toast.setAttribute('aria-live', 'polite');
      var header = document.querySelector('header.hh-top');
      if (header && header.parentNode) header.parentNode.insertBefore(toast, header.nextSibling);
      else document.body.insertBefore(toast, document.body.firstChild);
    }
    toast.textContent = '';
    var text = document.createElement('span');
    // textContent only: names come from the event stream and are never parsed as markup.
    text.textContent = (d.kind === 'question' ? 'New question from ' : 'New message from ') + String(d.from) + '. ';
    var link = document.createElement('a');
    link.href = '/inbox' + (d.id ? '#msg-' + encodeURIComponent(String(d.id)) : '');
    link.textContent = 'Open inbox';
    link.setAttribute('data-testid', 'toast-link');
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'hh-toast-close';
    close.setAttribute('aria-label', 'dismiss');
    close.textContent = '×';
    close.addEventListener('click', function () { toast.hidden = true; });
    toast.appendChild(text);
    toast.appendChild(link);
    toast.appendChild(close);
    toast.hidden = false;
    if (toastTimer) clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { if (toast) toast.hidden = true; }, 20000);
  }

  // ---- live ------------------------------------------------------------------------------------
  // Reuse app.js's stream where the page has one; otherwise open our own so every page gets the badge.
  var es = window.hyperhive && window.hyperhive.events;
  if (!es && window.EventSource) {
    es = new EventSource('/api/events');
    window.addEventListener('pagehide', function () { es.close(); });
  }
  if (es) {
    es.addEventListener('change', function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      if (!d || d.what !== 'message' || d.to !== 'operator') return;
      var n = count();
      if (n !== null) setCount(n + 1);
      sync();
      if (d.kind === 'question' || d.from === 'manager') showToast(d);
    });
  }

  // ---- inbox page: forms through the API ---------------------------------------------------------
  function markRead(li) {
    if (!li) return;
    li.classList.remove('hh-msg-unread');
    li.classList.add('hh-msg-read');
    li.setAttribute('data-unread', '0');
    var state = li.querySelector('.hh-msg-state');
    if (state) state.textContent = 'read';
  }

  // The result goes to the flash area, outside the live sections that a refresh replaces.
  function say(message, testid) {
    var area = document.getElementById('flash');
    if (!area) return;
    var p = document.createElement('p');
    p.className = 'hh-flash hh-flash-ok';
    p.setAttribute('role', 'status');
    p.setAttribute('data-testid', testid);
    p.textContent = message;
    area.appendChild(p);
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var api = form && form.getAttribute && form.getAttribute('data-api');
    if (!api || ev.defaultPrevented || !window.fetch) return;
    ev.preventDefault();
    var body = {};
    var fields = form.elements;
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (!f.name || f.name === '_csrf') continue;
      body[f.name] = f.name === 'upTo' ? Number(f.value) : f.value;
    }
    var status = form.querySelector('.hh-answer-status');
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    fetch(api, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf || '' },
      body: JSON.stringify(body),
    })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (j) {
          if (!r.ok) throw new Error(j && j.error && j.error.message ? j.error.message : 'HTTP ' + r.status);
          return j;
        });
      })
      .then(function (j) {
        if (form.id === 'ack-all') {
          var items = document.querySelectorAll('.hh-msg[data-unread="1"]');
          var upTo = Number(body.upTo);
          for (var k = 0; k < items.length; k++) {
            if (!upTo || Number(items[k].getAttribute('data-message-id')) <= upTo) markRead(items[k]);
          }
          if (j && typeof j.depth === 'number') setCount(j.depth);
          form.hidden = true;
          say((j && typeof j.acked === 'number' ? j.acked : 0) + ' marked read.', 'acked');
        } else {
          var li = form.closest('.hh-msg');
          // The API acks the inbox up to the answered message, like the form route does.
          var upToId = li ? Number(li.getAttribute('data-message-id')) : 0;
          var unread = document.querySelectorAll('.hh-msg[data-unread="1"]');
          for (var m = 0; m < unread.length; m++) if (Number(unread[m].getAttribute('data-message-id')) <= upToId) markRead(unread[m]);
          form.reset();
          if (button) button.disabled = false;
          if (status) { status.className = 'hh-answer-status'; status.textContent = 'sent'; }
          say('Answer sent' + (j && j.to ? ' to ' + j.to : '') + (j && j.id ? ' as message #' + j.id : '') + '.', 'answer-sent');
        }
        // Out of the section, so the live refresh (which skips a focused section) can re-render it.
        if (document.activeElement && form.contains(document.activeElement)) document.activeElement.blur();
        sync();
      })
      .catch(function (e) {
        if (button) button.disabled = false;
        if (status) { status.className = 'hh-answer-status hh-flash-error'; status.textContent = 'Not sent: ' + e.message; }
        else window.alert(e.message);
      });
  });
})();
