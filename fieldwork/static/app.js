"use strict";
// The auditor portal page: plain DOM, no build step. Every call carries the bearer token.
const $ = (s) => document.querySelector(s);
let token = sessionStorage.getItem("evidence-token") || "";

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k ?? "")));
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, {...(opts || {}), headers: {
    "Authorization": "Bearer " + token, "Content-Type": "application/json"}});
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}
const json = async (path, opts) => (await api(path, opts)).json();
const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
const badge = (s) => el("b", {class: "s-" + s}, s.replace("_", " "));
function fail(where, e) { where.replaceChildren(el("p", {class: "error"}, e.message)); }
// Answers can arrive out of order (a slow answer for an earlier date after a quick one for the
// date picked next). Each view draws only the answer to its latest request.
const turns = {};
function turn(view) {
  const n = (turns[view] = (turns[view] || 0) + 1);
  return () => turns[view] === n;
}

async function login(ev) {
  if (ev) ev.preventDefault();
  if (ev) token = $("#token").value.trim();
  try {
    const me = await json("/api/whoami");
    sessionStorage.setItem("evidence-token", token);
    $("#who").textContent = `${me.name} (${me.role})`;
    $("#login").hidden = true; $("#app").hidden = false;
    loadStates();
  } catch (e) {
    $("#login-error").textContent = "Sign-in failed: " + e.message;
  }
}

function tab(name) {
  for (const b of document.querySelectorAll("nav button"))
    b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "tab-" + name;
}

async function loadStates(ev) {
  if (ev) ev.preventDefault();
  const mine = turn("states");
  const asof = $("#asof").value || today();
  const body = $("#controls tbody");
  try {
    const res = await json("/api/states?as_of=" + encodeURIComponent(asof));
    if (!mine()) return;
    body.replaceChildren(...res.controls.map((c) => el("tr", {class: "pick", "data-control": c.id,
      onclick: () => loadEvidence(c.id, asof)}, el("td", {}, c.id), el("td", {}, badge(c.state)),
      el("td", {}, c.records), el("td", {}, c.title))));
    $("#controls").dataset.asof = asof;
  } catch (e) { if (mine()) fail($("#detail"), e); }
}

async function loadEvidence(control, asof) {
  const mine = turn("detail");
  const d = $("#detail");
  try {
    const res = await json(`/api/evidence?control=${encodeURIComponent(control)}&as_of=${asof}`);
    if (!mine()) return;
    const rows = res.records.map((r) => el("tr", {class: "pick", "data-record": r.id,
      onclick: () => loadRecord(r.id)},
      el("td", {}, `${r.connector}/${r.instance}`), el("td", {}, r.snapshot),
      el("td", {}, r.stale ? badge("stale") : r.status),
      el("td", {}, Object.entries(r.assessment).map(([k, v]) => `${v} ${k}`).join(", ")),
      el("td", {}, r.effective_at || `${r.period_start} .. ${r.period_end}`)));
    const missing = res.no_evidence_yet.map((m) => el("li", {}, `${m.connector}/${m.instance} ${m.snapshot}: no evidence`));
    const dl = el("button", {id: "download", onclick: () => download(control, asof)}, "Download bundle");
    // records left out: no seal by the store's key vouches for them (or a live run's)
    const warned = (res.warnings || []).map((w) => el("li", {class: "error"}, `WARNING: ${w}`));
    d.replaceChildren(el("h2", {}, `${control} as of ${res.as_of}`), dl, el("ul", {}, ...warned),
      el("table", {}, el("tbody", {}, ...rows)), el("ul", {}, ...missing), el("div", {id: "record"}));
  } catch (e) { if (mine()) fail(d, e); }
}

async function loadRecord(id) {
  const mine = turn("record");
  const box = $("#record");
  try {
    const r = await json("/api/records/" + id);
    if (!mine()) return;
    const findings = (r.findings || []).map((f) => el("tr", {}, el("td", {}, badge(f.status)),
      el("td", {}, f.resource), el("td", {}, f.reason + (f.exception ? ` (raw ${f.raw_status}; exception ${f.exception})` : ""))));
    const content = el("pre", {id: "content"}, "");
    const show = el("button", {id: "show-content", onclick: async () => {
      try { content.textContent = JSON.stringify(await json(`/api/records/${id}/content`), null, 2); }
      catch (e) { content.textContent = e.message; } }}, "Show content");
    box.replaceChildren(el("h3", {}, `Record ${r.id} (#${r.seq})`),
      el("p", {}, `${r.connector}/${r.instance} ${r.snapshot}: ${r.status}; collected ${r.collected_finished_at}; content sha256 ${r.content_sha256 || "-"}`),
      el("p", {id: "sealed", class: r.sealed === "sealed" ? "" : "error"},
        r.sealed === "sealed" ? "sealed: a seal by the store's key vouches for it" :
        `${String(r.sealed).toUpperCase()}: no seal by the store's key vouches for it; not sealed evidence`),
      el("h4", {}, "Findings"), el("table", {id: "findings"}, el("tbody", {}, ...findings)),
      el("h4", {}, "Provenance (how it was produced)"),
      el("pre", {id: "provenance"}, JSON.stringify(r.provenance, null, 2)), show, content);
  } catch (e) { if (mine()) fail(box, e); }
}

async function download(control, asof) {
  try {
    const r = await api(`/api/export?control=${encodeURIComponent(control)}&as_of=${asof}`);
    const blob = await r.blob();
    const a = el("a", {href: URL.createObjectURL(blob), download: `evidence-${control}-${asof}.zip`});
    document.body.append(a); a.click(); a.remove();
  } catch (e) { alert("Export failed: " + e.message); }
}

async function loadCoverage(ev) {
  ev.preventDefault();
  const mine = turn("coverage");
  const box = $("#coverage");
  try {
    const q = `since=${$("#cov-since").value}&until=${$("#cov-until").value}`;
    const cov = await json("/api/coverage?" + q);
    if (!mine()) return;
    const rows = cov.controls.map((c) => el("tr", {},
      el("th", {}, c.control),
      el("td", {}, el("table", {class: "timeline"}, el("tr", {}, ...c.days.map((s, i) =>
        el("td", {class: "s-" + s, title: `${cov.day_starts[i].slice(0, 10)}: ${s}`}))))),
      el("td", {}, `${c.summary.fresh_days}/${c.summary.days} days fresh` +
        (c.summary.fail ? `, ${c.summary.fail} failing` : "") +
        (c.summary.covered_whole_period ? " (whole period)" : ""))));
    box.replaceChildren(el("table", {id: "coverage-table"}, el("tbody", {}, ...rows)));
  } catch (e) { if (mine()) fail(box, e); }
}

let lastPop = null;
async function loadPopulation(ev) {
  ev.preventDefault();
  const mine = turn("population");
  const box = $("#population");
  const q = {control: $("#pop-control").value, since: $("#pop-since").value, until: $("#pop-until").value};
  try {
    const p = await json(`/api/population?control=${encodeURIComponent(q.control)}&since=${q.since}&until=${q.until}`);
    if (!mine()) return;
    lastPop = q;
    const gaps = p.gaps.map((g) => el("li", {class: "error"},
      `gap in ${g.series}: ${g.start} .. ${g.end}` + (g.reason ? `: ${g.reason}` : "")))
      .concat((p.warnings || []).map((w) => el("li", {class: "error"}, `WARNING: ${w}`)));
    box.replaceChildren(el("p", {id: "pop-summary"}, `${p.size} items from ${p.sources.length} records; ` +
      (p.complete ? "complete (no gaps)" : `INCOMPLETE: ${p.gaps.length} gap(s)`) + `; sha256 ${p.sha256}`),
      el("ul", {}, ...gaps),
      el("table", {}, el("tbody", {}, ...p.items.map((i) => el("tr", {}, el("td", {}, i.series),
        el("td", {}, i.id), el("td", {}, i.time))))));
    $("#sample-form").hidden = false;
  } catch (e) { if (mine()) fail(box, e); }
}

async function drawSample(ev) {
  ev.preventDefault();
  const mine = turn("sample");
  const box = $("#sample");
  const body = {...lastPop, size: Number($("#sample-size").value)};
  if ($("#sample-seed").value) body.seed = $("#sample-seed").value;
  try {
    const s = await json("/api/samples", {method: "POST", body: JSON.stringify(body)});
    if (!mine()) return;
    box.replaceChildren(el("p", {id: "sample-summary"}, `Sample record ${s.record}: ${s.selected.length} of ${s.population_size} items, seed ${s.seed}`),
      el("ul", {}, ...s.selected.map((i) => el("li", {}, `${i.series} ${i.id} (${i.time})`))));
  } catch (e) { if (mine()) fail(box, e); }
}

async function loadDiff(ev) {
  ev.preventDefault();
  const mine = turn("diff");
  const box = $("#diff");
  try {
    const d = await json(`/api/diff?control=${encodeURIComponent($("#diff-control").value)}&from=${$("#diff-from").value}&to=${$("#diff-to").value}`);
    if (!mine()) return;
    box.replaceChildren(el("p", {}, Object.entries(d.counts).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ")),
      el("table", {}, el("tbody", {}, ...d.changes.map((c) => el("tr", {}, el("td", {}, c.kind),
        el("td", {}, c.series), el("td", {}, c.resource), el("td", {}, `${c.before || "-"} → ${c.after || "-"}`),
        el("td", {}, c.reason), el("td", {}, `${c.record_before || "-"} / ${c.record_after || "-"}`))))));
  } catch (e) { if (mine()) fail(box, e); }
}

async function verifyNow() {
  const mine = turn("verify");
  const box = $("#verify");
  try {
    const v = await json("/api/verify");
    if (!mine()) return;
    box.replaceChildren(el("p", {id: "verify-summary"}, v.ok ? "Store intact" : `${v.problems.length} problem(s)`),
      el("pre", {}, JSON.stringify(v, null, 2)));
  } catch (e) { if (mine()) fail(box, e); }
}

$("#login-form").addEventListener("submit", login);
$("#asof-form").addEventListener("submit", loadStates);
$("#coverage-form").addEventListener("submit", loadCoverage);
$("#pop-form").addEventListener("submit", loadPopulation);
$("#sample-form").addEventListener("submit", drawSample);
$("#diff-form").addEventListener("submit", loadDiff);
$("#verify-btn").addEventListener("click", verifyNow);
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => tab(b.dataset.tab));
$("#asof").value = today();
for (const [id, v] of [["#cov-since", daysAgo(30)], ["#cov-until", today()], ["#pop-since", daysAgo(30)],
  ["#pop-until", today()], ["#diff-from", daysAgo(7)], ["#diff-to", today()]]) $(id).value = v;
if (token) login();
