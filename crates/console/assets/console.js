// posagent console: follows a job's server-sent events on its live page: the job's own
// events (as `posagent run --json` prints them: begin, step, transfer, confirm, code) and
// the console's (answered, outcome). Every text it shows arrives already translated (from
// the server, or the page's <template id=texts>).
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function follow(live) {
  const steps = document.getElementById("steps");
  const texts = document.getElementById("texts").dataset;
  const item = {};
  const result = document.getElementById("result");
  const show = (id, on) => { document.getElementById(id).hidden = !on; };
  const transfers = document.getElementById("transfer");
  const bars = {};

  function stepItem(name, label) {
    if (!item[name]) {
      const li = el("li", "pending");
      li.dataset.step = name;
      li.append(el("span", "label", label), el("span", "status", ""), el("div", "detail hint", ""));
      steps.append(li);
      item[name] = li;
    }
    return item[name];
  }

  function link(href, text, id) {
    const a = el("a", "", text);
    a.href = href;
    if (id) a.id = id;
    return a;
  }

  function apply(e) {
    switch (e.event) {
      case "begin":
        for (const s of e.steps) stepItem(s.name, s.label);
        break;
      case "step": {
        const li = stepItem(e.step, e.label);
        li.className = e.status;
        li.querySelector(".status").textContent = e.status_label;
        if (e.detail) li.querySelector(".detail").textContent = e.detail;
        if (e.status !== "started") {
          show("transfer", false);
          transfers.replaceChildren();
          for (const k in bars) delete bars[k];
        }
        break;
      }
      case "transfer": {
        // A row per transfer under way: a one-pass copy runs two at once.
        show("transfer", true);
        if (!bars[e.label]) {
          const row = el("div", "transfer-row");
          const bar = el("progress");
          bar.max = 100;
          row.append(el("span", "transfer-label", e.label), " ", bar, " ", el("span", "transfer-percent", ""));
          transfers.append(row);
          bars[e.label] = row;
        }
        const row = bars[e.label];
        row.querySelector("progress").value = e.percent;
        row.querySelector(".transfer-percent").textContent = e.percent + "%";
        break;
      }
      case "confirm":
        // Markup built and escaped by the server.
        document.getElementById("plan").innerHTML = e.html;
        show("confirm", true);
        break;
      case "code":
        document.getElementById("code-ask").textContent = (e.again ? texts.again + " " : "") + e.phone;
        show("code", true);
        break;
      case "answered":
        show("confirm", false);
        show("code", false);
        break;
      case "outcome": {
        const p = e.ok
          ? el("p", "notice ok", texts.done + " " + e.state_label + " ")
          : el("p", "notice error", texts.failed + " " + e.message + " ");
        p.id = "outcome";
        if (e.job) p.dataset.job = e.job;
        if (e.receipt) p.append(link(e.receipt, texts.receipt, "receipt-link"), " ");
        if (e.job) p.append(link("/jobs/" + e.job, texts.job, "job-link"));
        const box = el("div", "outcome");
        box.append(p);
        // What to do next, as the command line says it.
        if (e.help) box.append(el("p", "hint next-step", e.help));
        result.replaceChildren(box);
        show("stop-form", false);
        show("confirm", false);
        show("code", false);
        return true;
      }
    }
    return false;
  }

  const source = new EventSource(live.dataset.events);
  source.onmessage = (m) => {
    let over = false;
    for (const e of JSON.parse(m.data)) over = apply(e) || over;
    if (over) source.close();
  };
}

// Terminals: the list follows what is plugged in, probed again every few seconds, unless
// a secret is being typed or a binding is on show.
function keepFresh(page) {
  setInterval(async () => {
    const now = document.getElementById("terminals-page");
    if (!now || document.hidden || now.querySelector("dl.binding, .notice.error")) return;
    const typing = [...now.querySelectorAll("input[type=password]")].some(
      (i) => i.value !== "" || i === document.activeElement);
    if (typing) return;
    const r = await fetch(location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("terminals-page");
    if (fresh) now.replaceWith(document.adoptNode(fresh));
  }, Number(page.dataset.refresh));
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) follow(live);
  const terminals = document.getElementById("terminals-page");
  if (terminals) keepFresh(terminals);
});
