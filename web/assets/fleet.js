// The dashboard's bulk selection: row checkboxes belong to the bulk form (form="bulk"). The live
// refresh replaces the agents section; the selection and the form's choices are kept here and put
// back after each refresh, so a busy fleet's updates cannot drop what the operator ticked.
(function () {
  'use strict';
  var selected = {};
  var kept = { scope: false, action: null, reason: '' };

  function boxes() { return document.querySelectorAll('input[name="names"][form="bulk"]'); }
  function form() { return document.getElementById('bulk'); }

  function update() {
    var f = form();
    if (!f) return;
    var names = Object.keys(selected);
    var scope = f.querySelector('input[name="scope"]');
    var out = document.getElementById('bulk-selected');
    if (out) out.textContent = scope && scope.checked ? 'every agent matching the filter, on every page' : names.length ? names.length + ' selected' : 'none selected';
    var page = document.getElementById('bulk-page');
    var list = boxes();
    if (page) page.checked = list.length > 0 && Array.prototype.every.call(list, function (b) { return b.checked; });
  }

  function restore() {
    var list = boxes();
    for (var i = 0; i < list.length; i++) list[i].checked = !!selected[list[i].value];
    var f = form();
    if (f) {
      var scope = f.querySelector('input[name="scope"]');
      if (scope) scope.checked = kept.scope;
      if (kept.action && f.elements.action) f.elements.action.value = kept.action;
      if (f.elements.reason) f.elements.reason.value = kept.reason;
    }
    update();
  }

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    if (!t || !t.closest) return;
    if (t.name === 'names' && t.getAttribute('form') === 'bulk') {
      if (t.checked) selected[t.value] = true; else delete selected[t.value];
    } else if (t.id === 'bulk-page') {
      var list = boxes();
      for (var i = 0; i < list.length; i++) {
        list[i].checked = t.checked;
        if (t.checked) selected[list[i].value] = true; else delete selected[list[i].value];
      }
    } else if (t.closest('#bulk')) {
      if (t.name === 'scope') kept.scope = t.checked;
      if (t.name === 'action') kept.action = t.value;
    } else return;
    update();
  });
  document.addEventListener('input', function (ev) {
    if (ev.target && ev.target.name === 'reason' && ev.target.closest && ev.target.closest('#bulk')) kept.reason = ev.target.value;
  });
  document.addEventListener('hh:refreshed', restore);
  update();
})();
