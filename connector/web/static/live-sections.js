// Live sections of the staff pages (the bosai dashboard, the pmh views): the server sends
// re-rendered (already escaped) sections over SSE; this swaps each changed one in place,
// keeping keyboard focus and any opened <details>. No inline script anywhere (CSP
// script-src 'self'). A stream the server ends ("ended": the pmh views when the
// session ends) is not reconnected.
"use strict";
(function () {
  const main = document.getElementById("main");
  const url = main && main.dataset.liveUrl;
  const status = document.getElementById("live-status");
  if (!url || !status || !window.EventSource) return;
  const say = (key) => { status.textContent = status.dataset[key] || ""; };

  // What identifies the focused element across a re-render: its id, else its link target.
  function focusKey(el) {
    if (el.id) return { id: el.id };
    const href = el.getAttribute("href");
    return href ? { href } : null;
  }
  function refocus(target, key) {
    let el = null;
    if (key.id) el = document.getElementById(key.id);
    else if (key.href) {
      el = Array.from(target.querySelectorAll("[href]"))
        .find((a) => a.getAttribute("href") === key.href) || null;
    }
    (el || main).focus();
  }

  function swap(target, html) {
    if (target.innerHTML === html) return;
    const active = document.activeElement;
    const key = active && target.contains(active) ? focusKey(active) : null;
    const opened = Array.from(target.querySelectorAll("details"), (d) => d.open);
    target.innerHTML = html;
    target.querySelectorAll("details").forEach((d, i) => { if (opened[i]) d.open = true; });
    if (key) refocus(target, key);
  }

  say("connecting");
  const source = new EventSource(url);
  source.addEventListener("open", () => say("on"));
  source.addEventListener("error", () => say("off"));
  source.addEventListener("sections", (event) => {
    const data = JSON.parse(event.data);
    for (const [name, html] of Object.entries(data.sections)) {
      const target = main.querySelector(`[data-live="${CSS.escape(name)}"]`);
      if (target) swap(target, html);
    }
    if (data.updated) status.textContent = data.updated;
    main.dataset.liveSeq = String(data.seq);
  });
  source.addEventListener("ended", () => { source.close(); say("off"); });
})();
