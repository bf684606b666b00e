// hyperhive turns: follows the turn in progress on the agent page (and a running turn on its own
// page) over the page's event stream. The server renders every event (escaped, diffs by diff2html);
// this only asks for the events after the last one shown and appends them. Loaded after app.js.
(function () {
  'use strict';
  var view = document.querySelector('.hh-turn[data-follow]');
  var hh = window.hyperhive;
  if (!view || !hh) return;
  var agent = view.getAttribute('data-agent');
  // On a turn's own page only that turn is followed; on the agent page, whichever runs now.
  var pinned = document.body.getAttribute('data-page') === 'turn';
  var turn = Number(view.getAttribute('data-turn')) || null;
  var list = view.querySelector('ol.hh-transcript');

  function lastSeq() {
    var items = list.querySelectorAll('li[data-seq]');
    return items.length ? Number(items[items.length - 1].getAttribute('data-seq')) : 0;
  }

  function setTitle(status) {
    var h = view.closest('section') && view.closest('section').querySelector('h2');
    if (!h || !h.firstChild || h.firstChild.nodeType !== 3) return;
    h.firstChild.nodeValue = status === 'running' ? 'Turn in progress ' : 'Last turn ';
  }

  var busy = false;
  var again = false;
  function fetchNew() {
    if (!turn) return;
    if (busy) { again = true; return; }
    busy = true;
    var want = turn;
    var url = '/agents/' + encodeURIComponent(agent) + '/turns/' + want + '/events?after=' + lastSeq();
    fetch(url, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text || want !== turn) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var head = doc.querySelector('.hh-turn-head');
        var cur = view.querySelector('.hh-turn-head');
        if (head) {
          if (cur) cur.replaceWith(document.importNode(head, true)); else view.insertBefore(document.importNode(head, true), list);
          setTitle(head.getAttribute('data-status'));
          view.setAttribute('data-status', head.getAttribute('data-status'));
        }
        var empty = view.querySelector('.hh-turn-empty');
        if (empty) empty.remove();
        var seen = lastSeq();
        var items = doc.querySelectorAll('ol.hh-transcript > li[data-seq]');
        for (var i = 0; i < items.length; i++) {
          if (Number(items[i].getAttribute('data-seq')) > seen) list.appendChild(document.importNode(items[i], true));
        }
        view.setAttribute('data-last-seq', String(lastSeq()));
      })
      .catch(function () { /* the next event retries */ })
      .then(function () { busy = false; if (again) { again = false; fetchNew(); } });
  }

  function onTurn(ev) {
    var d;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    if (!d || d.agent !== agent) return;
    if (d.turn !== turn) {
      if (pinned) return;
      // A new turn: the view starts over with it.
      turn = d.turn;
      view.setAttribute('data-turn', String(turn));
      list.textContent = '';
      var cur = view.querySelector('.hh-turn-head');
      if (cur) cur.remove();
    }
    if (d.finished || d.seq > lastSeq()) fetchNew();
  }

  if (hh.events) {
    hh.events.addEventListener('turn', onTurn);
    // After a dropped stream, catch up on what was missed.
    hh.events.addEventListener('open', fetchNew);
  }
  // Rendered while running: events may have come between the render and the stream's start.
  var head0 = view.querySelector('.hh-turn-head');
  if (head0 && head0.getAttribute('data-status') === 'running') fetchNew();
  window.hyperhiveTurns = { refresh: fetchNew, current: function () { return turn; } };
})();
