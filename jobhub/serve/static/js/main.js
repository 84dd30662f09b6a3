// The page: a live table of every backend's jobs, fed by the event stream (never polled),
// filters kept in the URL, counts by backend and state, a health strip, a job's detail.
import { NeedsToken, follow, getJSON, setToken } from "./api.js";
import { Detail } from "./detail.js";
import { STATES, clear, el, percent, seconds, stateBadge, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const FILTERS = ["backend", "state", "workflow", "q"];

const page = {
  rows: new Map(), // ref → { job, tr }
  counts: new Map(), // backend → Map(state → n)
  health: new Map(), // backend → health
  cursor: null,
  stop: null,
};

function filters() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
}

function matches(job, wanted) {
  if (wanted.backend && job.backend !== wanted.backend) return false;
  if (wanted.state && job.state !== wanted.state) return false;
  if (wanted.workflow && job.workflow !== wanted.workflow) return false;
  if (wanted.q) {
    const q = wanted.q.toLowerCase();
    return [job.ref, job.workflow || "", job.error || ""].some((t) => t.toLowerCase().includes(q));
  }
  return true;
}

// -- the table -------------------------------------------------------------------------------

function cells(job) {
  return [
    el("td", { class: "mono", title: job.ref }, job.id),
    el("td", {}, job.backend),
    el("td", {}, job.workflow ?? ""),
    el("td", {}, stateBadge(job.state)),
    el("td", {}, when(job.created_at)),
    el("td", {}, seconds(job.duration)),
    el("td", {}, percent(job.progress)),
    el("td", {}, job.user ?? ""),
  ];
}

function row(job) {
  const tr = el("tr", { tabindex: 0, "data-ref": job.ref, "data-state": job.state }, ...cells(job));
  tr.addEventListener("click", () => openJob(job.ref));
  return tr;
}

function newestFirst(a, b) {
  return (Date.parse(b.created_at || 0) || 0) - (Date.parse(a.created_at || 0) || 0);
}

function put(job, { fresh = false } = {}) {
  const body = $("jobs").tBodies[0];
  const known = page.rows.get(job.ref);
  if (known) {
    known.job = job;
    known.tr.replaceChildren(...cells(job));
    known.tr.dataset.state = job.state;
    if (fresh) flash(known.tr);
    return;
  }
  const tr = row(job);
  page.rows.set(job.ref, { job, tr });
  // Keep newest first: find the first row older than this job.
  const after = [...page.rows.values()].find((r) => r.tr !== tr && r.tr.isConnected && newestFirst(job, r.job) < 0);
  body.insertBefore(tr, after ? after.tr : null);
  if (fresh) flash(tr);
}

function flash(tr) {
  tr.classList.remove("fresh");
  void tr.offsetWidth; // restart the animation
  tr.classList.add("fresh");
}

function drop(ref) {
  const known = page.rows.get(ref);
  if (known) known.tr.remove();
  page.rows.delete(ref);
}

function showEmpty() {
  $("empty").hidden = page.rows.size > 0;
}

// -- counts and health ----------------------------------------------------------------------

function renderCounts() {
  const table = clear($("counts"));
  const backends = [...page.counts.keys()].sort();
  if (!backends.length) return;
  table.append(el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Backend"),
    ...STATES.map((s) => el("th", { scope: "col" }, s)), el("th", { scope: "col" }, "all"))));
  const body = el("tbody");
  for (const backend of backends) {
    const states = page.counts.get(backend);
    const total = [...states.values()].reduce((a, b) => a + b, 0);
    body.append(el("tr", { "data-backend": backend }, el("th", { scope: "row" }, backend),
      ...STATES.map((s) => el("td", { "data-state": s }, states.get(s) || 0)), el("td", {}, total)));
  }
  table.append(body);
}

function count(backend, state, delta) {
  if (!page.counts.has(backend)) page.counts.set(backend, new Map());
  const states = page.counts.get(backend);
  states.set(state, Math.max(0, (states.get(state) || 0) + delta));
}

function renderHealth() {
  const list = clear($("health"));
  for (const h of [...page.health.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const kind = h.type !== h.name ? h.type : "";
    const why = h.up ? kind : (h.last_error || (h.following ? "not answering" : "not followed"));
    const items = [el("strong", {}, h.name), " ", h.up ? "up" : "down", el("span", { class: "why" }, why)];
    if (h.consecutive_failures) items.push(el("span", { class: "why" }, `${h.consecutive_failures} failures in a row`));
    if (h.rate_limited_until) items.push(el("span", { class: "why" }, `rate limited until ${when(h.rate_limited_until)}`));
    list.append(el("li", { "data-backend": h.name, "data-up": String(Boolean(h.up)) }, ...items));
  }
  const select = $("filters").elements.backend;
  const chosen = filters().backend;
  const names = [...new Set([...page.health.keys(), ...page.counts.keys()])].sort();
  select.replaceChildren(el("option", { value: "" }, "all"), ...names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
}

// -- loading and following ---------------------------------------------------------------------

function listingParams(wanted, cursor) {
  const params = new URLSearchParams({ limit: "100", sort: "-created" });
  for (const name of FILTERS) if (wanted[name]) params.set(name, wanted[name]);
  if (cursor) params.set("cursor", cursor);
  return params;
}

async function loadMore() {
  const answer = await getJSON("/api/v1/jobs", listingParams(filters(), page.cursor));
  answer.jobs.forEach((job) => put(job));
  page.cursor = answer.next_cursor;
  $("more").hidden = !page.cursor;
  showEmpty();
}

async function load() {
  if (page.stop) page.stop();
  page.rows.clear();
  clear($("jobs").tBodies[0]);
  const wanted = filters();
  try {
    const [health, answer] = await Promise.all([
      getJSON("/api/v1/backends"), getJSON("/api/v1/jobs", listingParams(wanted, null)),
    ]);
    $("login").hidden = true;
    page.health = new Map(health.backends.map((b) => [b.name, b]));
    page.counts = new Map(health.backends.map((b) => [b.name, new Map(Object.entries(b.jobs))]));
    renderHealth();
    renderCounts();
    answer.jobs.forEach((job) => put(job));
    page.cursor = answer.next_cursor;
    $("more").hidden = !page.cursor;
    showEmpty();
    // The stream filters by what does not change; the state filter is applied here, so a
    // job that leaves the chosen state leaves the table.
    const streamed = new URLSearchParams();
    for (const name of ["backend", "workflow", "q"]) if (wanted[name]) streamed.set(name, wanted[name]);
    page.stop = follow(streamed, answer.last_seq, {
      job: (event) => onEvent(event, wanted),
      backends: (list) => {
        for (const h of list) page.health.set(h.name, { ...page.health.get(h.name), ...h });
        renderHealth();
      },
      status: (state, why) => {
        const connection = $("connection");
        connection.dataset.state = state;
        connection.textContent = state === "live" ? "live" : `reconnecting (${why})`;
      },
      needsToken: askForToken,
    });
  } catch (error) {
    if (error instanceof NeedsToken) askForToken();
    else $("connection").textContent = error.message;
  }
}

let refreshing = null;

function onEvent(event, wanted) {
  const job = event.job;
  if (event.kind === "state") {
    if (event.old === null) count(job.backend, event.new, +1);
    else { count(job.backend, event.old, -1); count(job.backend, event.new, +1); }
    renderCounts();
  }
  if (matches(job, wanted)) put(job, { fresh: true });
  else drop(job.ref);
  showEmpty();
  if (detail.ref === job.ref && !refreshing) {
    refreshing = setTimeout(() => { refreshing = null; detail.refresh(); }, 200);
  }
}

function askForToken() {
  $("login").hidden = false;
  $("connection").dataset.state = "reconnecting";
  $("connection").textContent = "needs a token";
  $("login").elements.token.focus();
}

// -- filters, detail, keys --------------------------------------------------------------------

function setParams(changes) {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value) params.set(name, value);
    else params.delete(name);
  }
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

const detail = new Detail({
  onClose: () => {
    const ref = new URLSearchParams(location.search).get("job");
    setParams({ job: "" });
    page.rows.get(ref)?.tr.focus();
  },
});

function openJob(ref) {
  setParams({ job: ref });
  detail.open(ref);
}

function setUpFilters() {
  const form = $("filters");
  const stateSelect = form.elements.state;
  stateSelect.append(...STATES.map((s) => el("option", { value: s }, s)));
  const wanted = filters();
  for (const name of FILTERS) form.elements[name].value = wanted[name];
  let typing = null;
  const apply = () => {
    setParams(Object.fromEntries(FILTERS.map((n) => [n, form.elements[n].value.trim()])));
    load();
  };
  form.addEventListener("change", apply);
  form.addEventListener("input", (event) => {
    if (event.target.tagName !== "INPUT") return;
    clearTimeout(typing);
    typing = setTimeout(apply, 300);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  form.addEventListener("reset", () => setTimeout(apply, 0));
}

function setUpKeys() {
  $("jobs").tBodies[0].addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr");
    if (!tr) return;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openJob(tr.dataset.ref); }
    if (event.key === "ArrowDown") { event.preventDefault(); tr.nextElementSibling?.focus(); }
    if (event.key === "ArrowUp") { event.preventDefault(); tr.previousElementSibling?.focus(); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      $("filters").elements.q.focus();
    }
  });
}

function setUpTheme() {
  const saved = localStorage.getItem("jobhub-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  $("theme").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("jobhub-theme", next);
  });
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("login").elements.token.value.trim());
  $("login").elements.token.value = "";
  load();
});
$("more").addEventListener("click", () => loadMore());

setUpTheme();
setUpFilters();
setUpKeys();
load().then(() => {
  const ref = new URLSearchParams(location.search).get("job");
  if (ref) detail.open(ref);
});
