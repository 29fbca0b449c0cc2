"use strict";
// The dashboard: reads /health, /destinations and /logs with the admin
// token (kept in this tab's session storage only), draws what they say, and
// pauses, resumes and replays through the same admin endpoints. Text from
// the Worker is only ever set as text, never as markup.

const TOKEN_KEY = "threetone-edge-admin-token";
const REFRESH_MS = 10_000;
const $ = (id) => document.getElementById(id);
let deliveries = [];
let timer;

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function row(cells, attributes) {
  const tr = element("tr", undefined, attributes);
  for (const cell of cells) {
    if (cell instanceof Node) {
      const td = element("td");
      td.append(cell);
      tr.append(td);
    } else if (Array.isArray(cell)) {
      tr.append(element("td", cell[0], { class: cell[1] }));
    } else {
      tr.append(element("td", cell));
    }
  }
  return tr;
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, { ...options, headers: { ...(options.headers ?? {}), authorization: `Bearer ${token}` } });
  if (response.status === 401 || response.status === 403) {
    signOut(response.status === 401 ? "That token was refused." : "The admin endpoints are disabled (no ADMIN_TOKEN of 32 characters or more).");
    throw new Error("unauthorized");
  }
  if (response.status === 429) throw new Error(`Too many failed sign-ins from here; retry in ${response.headers.get("retry-after")} s.`);
  return response;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message ?? "";
}

function showError(error) {
  if (error.message === "unauthorized") return;
  $("error").hidden = false;
  $("error").textContent = error.message;
}

async function health() {
  const response = await fetch("/health");
  const body = await response.json();
  const badge = $("status");
  badge.textContent = body.status;
  badge.className = `badge ${body.status === "ok" ? "ok" : body.status === "degraded" ? "warn" : "bad"}`;
  $("version").textContent = `v${body.version} · ${body.delivery_mode}`;
  const problems = $("problems");
  problems.replaceChildren(
    ...body.problems.map((problem) =>
      element("li", `${problem.severity}: ${problem.variable}${problem.path ? ` ${problem.path}` : ""}: ${problem.reason}`, {
        class: problem.severity === "error" ? "error" : "",
      }),
    ),
  );
  $("problems-section").hidden = body.problems.length === 0;
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`;
}

function milliseconds(value) {
  return value === null || value === undefined ? "–" : `≤ ${value} ms`;
}

/** Deliveries per minute over the last hours: delivered above, failed below the line. */
function chart(series) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const minutes = 180;
  svg.setAttribute("viewBox", `0 0 ${minutes} 40`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const now = Math.floor(Date.now() / 60_000);
  const most = Math.max(1, ...series.map(([, delivered, failed]) => Math.max(delivered, failed)));
  let total = 0;
  for (const [minute, delivered, failed] of series) {
    const x = minutes - (now - minute) - 1;
    if (x < 0) continue;
    total += delivered + failed;
    for (const [count, className, y] of [[delivered, "delivered", (h) => 20 - h], [failed, "failed", () => 20]]) {
      if (count === 0) continue;
      const height = Math.max(1, (count / most) * 20);
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", String(x));
      bar.setAttribute("y", String(y(height)));
      bar.setAttribute("width", "1");
      bar.setAttribute("height", String(height));
      bar.setAttribute("class", className);
      svg.append(bar);
    }
  }
  svg.setAttribute("aria-label", `${total} deliveries in the last 3 hours`);
  return svg;
}

async function destinations() {
  const { destinations: list } = await (await api("/destinations")).json();
  const cards = list.map((destination) => {
    const card = element("div", undefined, { class: "card", "data-destination": destination.name });
    const state = destination.unavailable
      ? ["unavailable", "bad"]
      : destination.paused
        ? ["paused", "warn"]
        : destination.breaker !== "closed"
          ? [`breaker ${destination.breaker.replace("_", "-")}`, "bad"]
          : ["ok", "ok"];
    const title = element("h3", destination.name);
    title.append(element("span", state[0], { class: `badge ${state[1]}`, "data-state": state[0] }));
    const fields = element("dl");
    for (const [name, value] of [
      ["Route", destination.route],
      ["Success", percent(destination.success_rate)],
      ["p50 / p95", `${milliseconds(destination.p50_ms)} / ${milliseconds(destination.p95_ms)}`],
      ["In flight", destination.in_flight],
      ["Queued", destination.queued],
      ["Dead letters", destination.dead_letters],
    ]) {
      fields.append(element("dt", name), element("dd", value));
    }
    const toggle = element("button", destination.paused ? "Resume" : "Pause", { type: "button", "data-action": destination.paused ? "resume" : "pause" });
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await api(`/destinations/${encodeURIComponent(destination.name)}/${toggle.dataset.action}`, { method: "POST" });
        await refresh();
      } catch (error) {
        showError(error);
      }
    });
    card.append(title, chart(destination.series ?? []), fields, toggle);
    return card;
  });
  $("destinations").replaceChildren(...cards);
}

function fillSelect(select, values) {
  const chosen = select.value;
  select.replaceChildren(element("option", "all", { value: "" }), ...[...new Set(values)].sort().map((value) => element("option", value, { value })));
  select.value = values.includes(chosen) ? chosen : "";
}

function renderDeliveries() {
  const [event, destination, result] = ["filter-event", "filter-destination", "filter-result"].map((id) => $(id).value);
  const rows = deliveries
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => (!event || entry.event === event) && (!destination || entry.destination === destination) && (!result || entry.status === result))
    .map(({ entry, index }) =>
      row(
        [entry.timestamp, entry.event, entry.call_id ?? "", entry.destination ?? "", [entry.status, entry.status], entry.response_code, entry.delivery_time_ms],
        { "data-index": String(index) },
      ),
    );
  $("deliveries").tBodies[0].replaceChildren(...rows);
}

async function showDetail(entry) {
  const fields = $("detail-fields");
  fields.replaceChildren();
  for (const [name, value] of Object.entries(entry)) {
    if (value !== null && value !== undefined) fields.append(element("dt", name), element("dd", value));
  }
  const body = $("detail-body");
  body.textContent = "";
  if (entry.archive_key) {
    const response = await api(`/archive/${entry.archive_key}`);
    body.textContent = response.ok ? await response.text() : "The body is no longer archived.";
  } else {
    body.textContent = "Bodies are shown only when the Worker has an archive (ARCHIVE).";
  }
  $("detail").hidden = false;
}

async function logs() {
  const body = await (await api("/logs")).json();
  deliveries = body.recent_deliveries;
  fillSelect($("filter-event"), deliveries.map((entry) => entry.event));
  fillSelect($("filter-destination"), deliveries.map((entry) => entry.destination).filter(Boolean));
  fillSelect($("filter-result"), deliveries.map((entry) => entry.status));
  renderDeliveries();
  const letters = body.dead_letters.map((letter) => {
    const replay = element("button", "Replay", { type: "button", "data-letter": letter.id });
    replay.addEventListener("click", async () => {
      replay.disabled = true;
      try {
        const answer = await (await api("/dead-letters/replay", { method: "POST", body: JSON.stringify({ ids: [letter.id] }) })).json();
        replay.textContent = answer.replayed === 1 ? "Replayed" : "Not replayed";
        setTimeout(refresh, 1000);
      } catch (error) {
        showError(error);
      }
    });
    return row([new Date(letter.dead_lettered_at_ms).toISOString(), letter.event, letter.call_id ?? "", letter.destination, letter.attempts, letter.error, replay]);
  });
  $("dead-letters").tBodies[0].replaceChildren(...letters);
  $("dead-letters-empty").hidden = letters.length > 0;
}

async function refresh() {
  clearTimeout(timer);
  try {
    await health();
    if (!sessionStorage.getItem(TOKEN_KEY)) return;
    await destinations();
    await logs();
    $("error").hidden = true;
  } catch (error) {
    showError(error);
  }
  if (sessionStorage.getItem(TOKEN_KEY)) timer = setTimeout(refresh, REFRESH_MS);
}

function signedIn() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  refresh();
}

$("login").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  signedIn();
});
$("logout").addEventListener("click", () => signOut());
for (const id of ["filter-event", "filter-destination", "filter-result"]) $(id).addEventListener("change", renderDeliveries);
$("deliveries").addEventListener("click", (clicked) => {
  const tr = clicked.target.closest("tr[data-index]");
  if (tr) showDetail(deliveries[Number(tr.dataset.index)]).catch(showError);
});
$("detail-close").addEventListener("click", () => ($("detail").hidden = true));

if (sessionStorage.getItem(TOKEN_KEY)) signedIn();
else {
  signOut();
  health().catch(showError);
}
