// hyperhive terminal: xterm.js (served from its npm package) over the WebSocket at
// /api/agents/<name>/terminal. Output arrives as binary frames and is acknowledged from term.write
// callbacks (the server pauses the PTY while a viewer is behind); keys go out as binary frames;
// control messages are JSON text frames. A dropped connection reconnects to the same session and the
// server sends the screen again; a reload reopens it (sessionStorage).
(function () {
  'use strict';
  var section = document.getElementById('terminal');
  var box = document.getElementById('terminal-box');
  if (!section || !box || !window.Terminal || !window.FitAddon) return;

  // ---- CSP: xterm.js's DOM renderer writes <style> elements and style attributes, which the page's
  // policy (style-src 'self', no inline) refuses — even an empty <style> counts. Its rules go into
  // constructed stylesheets instead (document.adoptedStyleSheets), held by an inert <template> where
  // xterm puts its <style>, and style attributes go through the CSSOM: both are what the policy allows.
  var origCreate = document.createElement;
  document.createElement = function (tag, opts) {
    if (String(tag).toLowerCase() !== 'style' || !document.adoptedStyleSheets) return origCreate.call(document, tag, opts);
    var el = origCreate.call(document, 'template');
    el.setAttribute('data-xterm-style', '');
    var sheet = new CSSStyleSheet();
    var text = '';
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    Object.defineProperty(el, 'textContent', {
      get: function () { return text; },
      set: function (v) { text = String(v); sheet.replaceSync(text); },
    });
    var remove = el.remove;
    el.remove = function () {
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter(function (s) { return s !== sheet; });
      remove.call(el);
    };
    return el;
  };
  var origSetAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === 'style' && this.style) { this.style.cssText = String(value); return; }
    return origSetAttribute.call(this, name, value);
  };

  var agent = section.getAttribute('data-agent');
  var csrf = window.hyperhive && window.hyperhive.csrf;
  var openBtn = document.getElementById('terminal-open');
  var closeBtn = document.getElementById('terminal-close');
  var takeBtn = document.getElementById('terminal-take');
  var roleEl = document.getElementById('terminal-role');
  var viewersEl = document.getElementById('terminal-viewers');
  var msgEl = document.getElementById('terminal-msg');
  var KEY = 'hh-terminal:' + agent;
  // Codes after which reconnecting would only be refused again (see web/terminal/protocol.ts).
  var FINAL = { 4400: 1, 4403: 1, 4404: 1, 4409: 1, 4410: 1 };

  var term = null;
  var fit = null;
  var ws = null;
  var st = { connected: false, role: null, writer: null, session: null, ended: null, viewers: [], cols: 0, rows: 0, reconnects: 0 };
  var retryTimer = null;
  var backoff = 500;
  var unacked = 0;
  var ackTimer = null;
  var enc = new TextEncoder();

  function show(text, kind) {
    msgEl.textContent = text || '';
    msgEl.className = 'hh-term-msg' + (kind === 'error' ? ' hh-term-msg-error' : '');
  }

  function setRole(role, writer) {
    st.role = role;
    st.writer = writer;
    roleEl.hidden = false;
    roleEl.textContent = role === 'writer' ? 'you have the keyboard' : 'read-only' + (writer ? ': ' + writer + ' is typing' : '');
    roleEl.className = 'hh-term-role hh-term-role-' + role;
    roleEl.setAttribute('data-role', role);
    takeBtn.hidden = role === 'writer';
    if (term) term.options.disableStdin = role !== 'writer';
    if (role === 'writer') refit();
  }

  function setViewers(list) {
    st.viewers = list;
    viewersEl.textContent = list.length + ' viewer' + (list.length === 1 ? '' : 's') + ': ' + list.map(function (v) { return v.who + (v.role === 'writer' ? ' (writer)' : ''); }).join(', ');
  }

  function send(data) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(data); }

  function flushAck() {
    if (ackTimer) { clearTimeout(ackTimer); ackTimer = null; }
    if (unacked > 0) { send(JSON.stringify({ type: 'ack', bytes: unacked })); unacked = 0; }
  }
  // Acknowledged in batches, and always soon after output stops (the server waits for the low watermark).
  function ack(n) {
    unacked += n;
    if (unacked >= 8192) flushAck();
    else if (!ackTimer) ackTimer = setTimeout(flushAck, 20);
  }

  function refit() {
    if (!term || !fit || st.role !== 'writer') return;
    try { fit.fit(); } catch (e) { /* not laid out yet */ }
  }

  function ensureTerm() {
    if (term) return;
    term = new window.Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000, convertEol: false, allowProposedApi: false });
    fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    box.hidden = false;
    term.open(box);
    try { fit.fit(); } catch (e) { /* laid out below */ }
    term.onData(function (d) { if (st.role === 'writer') send(enc.encode(d)); });
    term.onBinary(function (d) {
      if (st.role !== 'writer') return;
      var b = new Uint8Array(d.length);
      for (var i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 255;
      send(b);
    });
    term.onResize(function (s) {
      st.cols = s.cols; st.rows = s.rows;
      if (st.role === 'writer') send(JSON.stringify({ type: 'resize', cols: s.cols, rows: s.rows }));
    });
    var pending = null;
    window.addEventListener('resize', function () {
      if (pending) return;
      pending = setTimeout(function () { pending = null; refit(); }, 100);
    });
    if (window.ResizeObserver) new ResizeObserver(function () { refit(); }).observe(box);
  }

  function onControl(m) {
    if (m.type === 'hello') {
      st.session = m.session;
      st.connected = true;
      backoff = 500;
      // The screen comes next, whole: what this terminal showed before is replaced by it.
      term.reset();
      setRole(m.role, m.writer);
      setViewers(m.viewers);
      if (m.role !== 'writer') term.resize(m.cols, m.rows);
      else if (term.cols !== m.cols || term.rows !== m.rows) send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
      show('');
      section.setAttribute('data-session', m.session);
    } else if (m.type === 'role') setRole(m.role, m.writer);
    else if (m.type === 'viewers') setViewers(m.viewers);
    else if (m.type === 'size') { if (st.role !== 'writer') term.resize(m.cols, m.rows); }
    else if (m.type === 'notice') show(m.message);
    else if (m.type === 'ended') { st.ended = m; show(m.message, m.reason === 'slow' ? '' : 'error'); }
    else if (m.type === 'error') { st.ended = m; show(m.message, 'error'); }
  }

  function connect() {
    if (ws) return;
    clearTimeout(retryTimer);
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/agents/' + encodeURIComponent(agent) +
      '/terminal?cols=' + term.cols + '&rows=' + term.rows;
    // The CSRF token rides as a second subprotocol: a browser cannot set headers on a WebSocket.
    var sock = new WebSocket(url, ['hyperhive.terminal.v1', 'hyperhive.csrf.' + csrf]);
    ws = sock;
    sock.binaryType = 'arraybuffer';
    show('connecting…');
    sock.onmessage = function (ev) {
      if (typeof ev.data === 'string') {
        var m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        onControl(m);
        return;
      }
      var bytes = new Uint8Array(ev.data);
      var n = bytes.length;
      term.write(bytes, function () { ack(n); });
    };
    sock.onclose = function (ev) {
      if (ws === sock) ws = null;
      st.connected = false;
      flushAck();
      unacked = 0;
      if (sock.userClosed) return;
      if (FINAL[ev.code] || st.ended && st.ended.type === 'error') {
        sessionStorage.removeItem(KEY);
        openBtn.hidden = false;
        openBtn.textContent = 'Open a new terminal';
        closeBtn.hidden = true;
        takeBtn.hidden = true;
        if (term) term.options.disableStdin = true;
        if (!st.ended) show('the terminal closed (' + ev.code + ')', 'error');
        return;
      }
      st.reconnects++;
      show('connection lost: reconnecting in ' + Math.round(backoff / 100) / 10 + ' s…');
      retryTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  function open() {
    sessionStorage.setItem(KEY, '1');
    st.ended = null;
    openBtn.hidden = true;
    closeBtn.hidden = false;
    ensureTerm();
    connect();
    term.focus();
  }

  openBtn.addEventListener('click', open);
  closeBtn.addEventListener('click', function () {
    sessionStorage.removeItem(KEY);
    if (ws) { ws.userClosed = true; ws.close(1000); ws = null; }
    clearTimeout(retryTimer);
    openBtn.hidden = false;
    openBtn.textContent = 'Open terminal';
    closeBtn.hidden = true;
    takeBtn.hidden = true;
    roleEl.hidden = true;
    box.hidden = true;
    show('disconnected; the session stays open until its idle timeout');
  });
  takeBtn.addEventListener('click', function () { send(JSON.stringify({ type: 'take' })); if (term) term.focus(); });
  window.addEventListener('pagehide', function () { if (ws) { ws.userClosed = true; ws.close(1000); } });

  // A reload reopens the terminal that was open: the same session, its screen restored.
  if (sessionStorage.getItem(KEY) === '1') open();

  window.hyperhiveTerminal = {
    state: function () { return { connected: st.connected, role: st.role, writer: st.writer, session: st.session, ended: st.ended, viewers: st.viewers, cols: term ? term.cols : 0, rows: term ? term.rows : 0, reconnects: st.reconnects }; },
    /** The rendered rows, as the reader sees them. */
    text: function () { var r = box.querySelector('.xterm-rows'); return r ? r.innerText : ''; },
    /** Every line of the terminal's buffer, scrollback included (what scrolling up shows). */
    lines: function () {
      if (!term) return [];
      var b = term.buffer.active;
      var out = [];
      for (var i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
      return out;
    },
  };
})();
