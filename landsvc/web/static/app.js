/* landsvc web pages: small helpers; the pages work without them except maps and charts. */
(function () {
  "use strict";
  var KEY = "landsvc:kept-form";

  // A form submitted while the session has lapsed comes back after signing in: its fields
  // are kept in sessionStorage on submit and restored when the server sends the visitor
  // back to the page with "#kept" (forms marked data-nokeep, and passwords, are never kept).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-nokeep")) return;
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "password" || el.type === "file" || el.name === "csrf_token") return;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { fields.push([el.name, o.value]); });
      } else {
        fields.push([el.name, el.value]);
      }
    });
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ path: location.pathname + location.search, fields: fields }));
    } catch (e) { /* storage full or disabled: nothing is kept */ }
  }, true);

  function restore() {
    var saved;
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { saved = null; }
    if (location.hash !== "#kept" || !saved) return;
    if (saved.path !== location.pathname + location.search) return;
    sessionStorage.removeItem(KEY);
    var byName = {};
    saved.fields.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
    Object.keys(byName).forEach(function (name) {
      document.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach(function (el) {
        var vals = byName[name];
        if (el.type === "checkbox" || el.type === "radio") el.checked = vals.indexOf(el.value) >= 0;
        else if (el.tagName === "SELECT" && el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = vals.indexOf(o.value) >= 0; });
        } else el.value = vals[0];
        el.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
    var note = document.createElement("div");
    note.className = "alert info";
    note.setAttribute("role", "status");
    note.textContent = "已恢复登录前填写的内容，请检查后重新提交。";
    var main = document.getElementById("main");
    if (main) main.insertBefore(note, main.firstChild);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore);
  else restore();

  // Forms with data-confirm ask before submitting (withdrawals, publications …).
  document.addEventListener("submit", function (event) {
    var msg = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) event.preventDefault();
  });
})();
