// The back office page: sign-in (password, second factor, enrollment,
// recovery codes), then one area per part of the work, each shown only to
// who may reach it (GET /api/me lists the caller's permissions).
//
// Under the app's Content-Security-Policy: no inline script, no inline
// style, no eval. Text goes in with textContent, never as HTML (the one
// exception is the server's QR code SVG). Only the app's JSON API is used.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

/** Clients per page of GET /api/clients (the server's page size). */
const PAGE = 20;
/** Action log entries per page (the server answers at most 500). */
const LOG_PAGE = 50;
/** The seed roles, most privileged first. */
const ROLES = ["Administrator", "Manager", "Operator supervisor", "Senior operator", "Operator"];
/** The policy's types and actions, for the rights editor's suggestions. */
const POLICY = {
  Client: ["read", "search", "create", "edit", "export", "erase"],
  Booking: ["read", "create", "edit", "delete"],
  Attachment: ["read", "create", "close", "hold"],
  Invoice: ["read", "create"],
  Payment: ["read", "create"],
  Tariff: ["read", "create", "edit"],
  Analytics: ["read"],
  Statistics: ["read"],
  Settings: ["read", "edit"],
  Account: ["read", "create", "block", "delete", "set_rights", "unlock_factor", "reset_factor", "view_as"],
  Audit: ["read", "export"],
  Download: ["read"],
  Alert: ["read"],
  Incident: ["report"],
  Retention: ["run"],
  Tenant: ["close"],
};

const state = {
  me: null,
  perms: new Set(),
  area: null,
  users: new Map(),
  clientNames: new Map(),
  clients: { offset: 0, list: [], masked: [], sort: null, dir: 1, filter: "", search: null, detail: null },
  rightsOf: null,
  rightsMade: new Map(),
  actions: { entries: [], page: 0 },
};

// ---- small helpers ---------------------------------------------------------

/** An element with attributes and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
}

const pad = (n) => String(n).padStart(2, "0");

/** Unix seconds as local "YYYY-MM-DD HH:MM" in a <time>. */
function when(unix) {
  if (unix === undefined || unix === null) return "—";
  const d = new Date(unix * 1000);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return h("time", { datetime: d.toISOString() }, text);
}

/** The value of a datetime-local input for a Date. */
function localInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Unix seconds of a datetime-local or date input's value (or undefined). */
function unixOf(value) {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined;
}

const money = (cents) => (cents / 100).toFixed(2);

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

const can = (permission) => state.perms.has(permission);

/** The lock sign of a value the caller's rights mask. */
function maskedSign() {
  return h("span", { class: "sign masked-sign", role: "img", "aria-label": "masked", title: "Masked by your rights" },
    svg("svg", { viewBox: "0 0 16 16", width: 12, height: 12, "aria-hidden": "true", focusable: "false" },
      svg("rect", { x: 3, y: 7, width: 10, height: 8, rx: 1.5, fill: "currentColor" }),
      svg("path", { d: "M5.2 7V5.2a2.8 2.8 0 0 1 5.6 0V7", fill: "none", stroke: "currentColor", "stroke-width": 1.6 })));
}

/** The sign of a field the caller's rights hide. */
function hiddenSign() {
  return h("span", { class: "sign hidden-sign", role: "img", "aria-label": "hidden", title: "Hidden by your rights" }, "hidden");
}

/** A value as shown: with the masked sign when the answer masked its field. */
function value(v, field, masked) {
  if (v === undefined) return [h("span", { class: "muted" }, "—"), hiddenSign()];
  const text = h("span", { class: "value" }, v === null ? "—" : String(v));
  return masked && masked.includes(field) ? [text, maskedSign()] : [text];
}

function emptyRow(tbody, columns, text) {
  tbody.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: columns }, text)));
}

/** An employee's name (or the id when unknown); "A as B" for view-as records. */
function who(id) {
  if (!id) return "—";
  if (id.includes(" as ")) return id.split(" as ").map(who).join(" as ");
  if (state.me && id === state.me.user) return state.me.name;
  const u = state.users.get(id);
  return u && u.name ? u.name : id;
}

/** A data subject (`client:ID`) by the client's name when known. */
function subjectName(s) {
  const id = s.startsWith("client:") ? s.slice(7) : null;
  return id && state.clientNames.has(id) ? state.clientNames.get(id) : s;
}

// ---- messages --------------------------------------------------------------

function clearMessages() {
  for (const id of ["message", "status", "gate-message", "gate-status"]) $(id).textContent = "";
}

/** A success note (polite live region). */
function say(text) {
  const target = state.me ? "status" : "gate-status";
  $(target).textContent = text || "";
}

/** A failure, refusals set apart (assertive live region). */
function fail(e) {
  const target = state.me ? "message" : "gate-message";
  let text = e && e.message ? e.message : String(e);
  if (e && e.status === 403) text = `Refused: ${text}`;
  else if (e && e.status === 404) text = `Not found: ${text}`;
  else if (e && e.status === 429) text = `Too many requests: ${text}`;
  $(target).textContent = text;
}

// ---- the API ---------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * One request to the JSON API. A 403 that asks for a fresh step-up
 * (`X-Step-Up: required`) opens the step-up prompt and, once proven, sends
 * the request again.
 */
async function api(method, path, body, { retried = false } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "the server cannot be reached");
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.text();
  if (response.ok) return data;
  const message = (data && data.error) || response.statusText || `error ${response.status}`;
  if (response.status === 403 && response.headers.get("X-Step-Up") === "required" && !retried) {
    if (await stepUp()) return api(method, path, body, { retried: true });
    throw new ApiError(403, "the action needs your password or a code again (cancelled)");
  }
  if (response.status === 401 && state.me && !path.startsWith("/api/me/password") && !path.startsWith("/api/step-up")) {
    sessionEnded();
  }
  throw new ApiError(response.status, message);
}

/** Runs `work`, its failure shown; returns whether it succeeded. */
async function attempt(work) {
  clearMessages();
  try {
    await work();
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

// ---- dialogs ---------------------------------------------------------------

/** Opens `dialog` modally; focus goes back where it was when it closes. */
function openModal(dialog, first) {
  const opener = document.activeElement;
  dialog.showModal();
  if (first) first.focus();
  dialog.addEventListener("close", () => { if (opener && opener.isConnected) opener.focus(); }, { once: true });
}

/** The step-up prompt: the password or a code again. Resolves to whether it was proven. */
function stepUp() {
  return new Promise((resolve) => {
    const dialog = $("stepup-dialog");
    const form = $("stepup-form");
    $("stepup-password").value = "";
    $("stepup-code").value = "";
    $("stepup-error").textContent = "";
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      form.removeEventListener("submit", submit);
      $("stepup-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const submit = async (ev) => {
      ev.preventDefault();
      const password = $("stepup-password").value;
      const code = $("stepup-code").value.trim();
      if (!password && !code) {
        $("stepup-error").textContent = "Enter your password or a code.";
        return;
      }
      try {
        await api("POST", "/api/step-up", password ? { password } : { code }, { retried: true });
        $("stepup-password").value = "";
        finish(true);
      } catch (e) {
        $("stepup-error").textContent = e.message;
      }
    };
    const cancel = (ev) => { ev.preventDefault(); finish(false); };
    form.addEventListener("submit", submit);
    $("stepup-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    openModal(dialog, $("stepup-password"));
  });
}

/** Asks to confirm a destructive action. */
function confirmAction(title, text, yes = "Yes") {
  return new Promise((resolve) => {
    const dialog = $("confirm-dialog");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-yes").textContent = yes;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    openModal(dialog, $("confirm-no"));
  });
}

/**
 * A small form in a dialog. `fields`: [{ name, label, type, value, min, max, step }].
 * Resolves to the values by name, or null when cancelled.
 */
function editDialog(title, fields, save = "Save") {
  return new Promise((resolve) => {
    const dialog = $("edit-dialog");
    $("edit-title").textContent = title;
    $("edit-save").textContent = save;
    const inputs = fields.map((f) => {
      const id = `edit-${f.name}`;
      const input = h("input", { id, name: f.name, type: f.type || "text", min: f.min, max: f.max, step: f.step, required: f.required });
      input.value = f.value === undefined || f.value === null ? "" : String(f.value);
      return [f, h("div", {}, h("label", { for: id }, f.label), input), input];
    });
    $("edit-fields").replaceChildren(...inputs.map(([, row]) => row));
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") return resolve(null);
      const out = {};
      for (const [f, , input] of inputs) out[f.name] = input.value;
      resolve(out);
    }, { once: true });
    openModal(dialog, inputs.length ? inputs[0][2] : null);
  });
}

// ---- sign-in ---------------------------------------------------------------

const GATE_SCREENS = ["signin", "signup", "totp", "enroll", "recovery-codes"];

function showGate(id, focus) {
  state.me = null;
  $("app").classList.add("hidden");
  $("gate").classList.remove("hidden");
  for (const s of GATE_SCREENS) $(s).classList.toggle("hidden", s !== id);
  const target = focus ? $(focus) : $(id).querySelector("input, button");
  if (target) target.focus();
}

function sessionEnded() {
  resetShell();
  state.me = null;
  showGate("signin", "tenant");
  $("gate-message").textContent = "Your session ended; sign in again.";
}

async function afterPassword(stage) {
  if (stage === "totp") {
    showGate("totp", "code");
    return;
  }
  if (stage === "enroll") {
    const e = await api("POST", "/api/totp/enroll", {});
    $("qr").innerHTML = e.qr_svg; // SVG made by the server from the key URI
    $("enroll-secret").textContent = e.secret;
    showGate("enroll", "enroll-code");
    return;
  }
  await enterApp();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearMessages();
  try {
    const r = await api("POST", "/api/login", { tenant: $("tenant").value.trim(), email: $("email").value.trim(), password: $("password").value });
    $("password").value = "";
    await afterPassword(r.stage);
  } catch (e) {
    fail(e);
  }
});

$("totp-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearMessages();
  const body = $("recovery").value.trim() ? { recovery_code: $("recovery").value.trim() } : { code: $("code").value.trim() };
  try {
    await api("POST", "/api/login/second-factor", body);
    $("code").value = "";
    $("recovery").value = "";
    await enterApp();
  } catch (e) {
    fail(e);
  }
});

$("enroll-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearMessages();
  try {
    const r = await api("POST", "/api/totp/confirm", { code: $("enroll-code").value.trim() });
    $("qr").textContent = "";
    $("enroll-secret").textContent = "";
    $("enroll-code").value = "";
    $("recovery-list").textContent = r.recovery_codes.join("\n");
    showGate("recovery-codes", "recovery-title");
  } catch (e) {
    fail(e);
  }
});

$("recovery-done").addEventListener("click", async () => {
  $("recovery-list").textContent = "";
  await attempt(enterApp);
});

$("show-signup").addEventListener("click", () => { clearMessages(); showGate("signup", "signup-tenant"); });
$("signup-cancel").addEventListener("click", () => { clearMessages(); showGate("signin", "tenant"); });

$("signup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearMessages();
  try {
    const r = await api("POST", "/api/signup", {
      tenant: $("signup-tenant").value.trim(),
      company: $("signup-company").value.trim(),
      name: $("signup-name").value.trim(),
      email: $("signup-email").value.trim(),
      password: $("signup-password").value,
    });
    $("tenant").value = r.tenant;
    $("email").value = $("signup-email").value.trim();
    $("signup-password").value = "";
    showGate("signin", "password");
    say(`Company ${r.tenant} created: sign in, then enroll your authenticator.`);
  } catch (e) {
    fail(e);
  }
});

for (const b of document.querySelectorAll(".signout")) {
  b.addEventListener("click", async () => {
    try { await api("POST", "/api/logout"); } catch (e) { /* already out */ }
    state.users.clear();
    state.clientNames.clear();
    state.rightsMade.clear();
    resetShell();
    clearMessages();
    showGate("signin", "tenant");
    say("Signed out.");
  });
}

// ---- the shell -------------------------------------------------------------

const AREAS = {
  clients: { allowed: () => can("Client:read"), load: () => loadClients() },
  bookings: { allowed: () => can("Booking:read"), load: () => loadBookings() },
  finance: { allowed: () => can("Invoice:read") || can("Payment:read") || can("Tariff:read"), load: () => loadFinance() },
  analytics: { allowed: () => can("Analytics:read"), load: () => loadAnalytics() },
  statistics: { allowed: () => true, load: () => loadStatistics() },
  users: { allowed: () => can("Account:read"), load: () => loadUsers() },
  logs: { allowed: () => can("Audit:read"), load: () => loadLogs() },
  alerts: { allowed: () => can("Alert:read"), load: () => loadAlerts() },
  incidents: { allowed: () => can("Incident:report"), load: () => loadIncidents() },
  downloads: { allowed: () => can("Download:read"), load: () => loadDownloads() },
  settings: { allowed: () => can("Settings:read"), load: () => loadSettings() },
  account: { allowed: () => true, load: () => loadAccount() },
};

/**
 * Forgets everything shown: on sign-out and whenever the identity changes
 * ("view as" starts or ends), no earlier answer stays in the page.
 */
function resetShell() {
  for (const tbody of document.querySelectorAll("#app tbody")) tbody.replaceChildren();
  for (const id of ["client-fields", "client-attachments", "client-invoices", "analytics-body", "incident-report", "download-content", "account-fields", "account-permissions", "rights-made", "booking-client"]) $(id).replaceChildren();
  for (const id of ["client-detail", "rights-panel", "download-view", "client-add", "user-add"]) $(id).classList.add("hidden");
  $("clients-split").classList.remove("open");
  for (const form of document.querySelectorAll("#app form")) form.reset();
  $("rights-field-wrap").classList.add("hidden");
  $("rights-right-wrap").classList.remove("hidden");
  state.actions = { entries: [], page: 0 };
  state.rightsOf = null;
}

/** Signs into the shell as GET /api/me says (also after "view as" starts or ends). */
async function enterApp(preferred) {
  const me = await api("GET", "/api/me");
  if (me.stage !== "ok") {
    await afterPassword(me.stage);
    return;
  }
  resetShell();
  state.me = me;
  state.perms = new Set(me.permissions || []);
  state.users.clear();
  state.clientNames.clear();
  state.clients = { offset: 0, list: [], masked: [], sort: null, dir: 1, filter: "", search: null, detail: null };
  $("whoami").textContent = `${me.name} (${me.role}), tenant ${me.tenant}`;
  const viewing = Boolean(me.viewed_by);
  $("viewas-banner").classList.toggle("hidden", !viewing);
  document.body.classList.toggle("viewing-as", viewing);
  $("viewas-name").textContent = viewing ? me.name : "";
  for (const [name, area] of Object.entries(AREAS)) $(`nav-${name}`).parentElement.hidden = !area.allowed();
  for (const group of document.querySelectorAll("#nav li.group")) {
    let next = group.nextElementSibling;
    let any = false;
    while (next && !next.classList.contains("group")) {
      any = any || !next.hidden;
      next = next.nextElementSibling;
    }
    group.hidden = !any;
  }
  for (const e of document.querySelectorAll("[data-needs]")) e.hidden = !can(e.dataset.needs);
  $("gate").classList.add("hidden");
  $("app").classList.remove("hidden");
  if (can("Account:read")) {
    try { await loadUsersMap(); } catch (e) { /* names fall back to ids */ }
  }
  const wanted = preferred || location.hash.replace(/^#\//, "");
  await showArea(AREAS[wanted] && AREAS[wanted].allowed() ? wanted : firstArea(), false);
}

function firstArea() {
  return Object.keys(AREAS).find((a) => AREAS[a].allowed());
}

async function showArea(name, focus = true) {
  if (!AREAS[name] || !AREAS[name].allowed()) name = firstArea();
  state.area = name;
  for (const a of Object.keys(AREAS)) {
    $(`area-${a}`).classList.toggle("hidden", a !== name);
    const b = $(`nav-${a}`);
    if (a === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (location.hash !== `#/${name}`) {
    // A move the user made is a step the Back button undoes.
    if (focus) history.pushState(null, "", `#/${name}`);
    else history.replaceState(null, "", `#/${name}`);
  }
  if (focus) $(`${name}-title`).focus();
  try {
    await AREAS[name].load();
  } catch (e) {
    fail(e);
  }
}

for (const b of document.querySelectorAll("#nav button[data-area]")) {
  b.addEventListener("click", () => { clearMessages(); showArea(b.dataset.area); });
}

function followAddress() {
  const name = location.hash.replace(/^#\//, "");
  if (state.me && AREAS[name] && name !== state.area) {
    clearMessages();
    showArea(name);
  }
}
window.addEventListener("hashchange", followAddress);
window.addEventListener("popstate", followAddress);

$("viewas-end").addEventListener("click", async () => {
  await attempt(async () => {
    await api("POST", "/api/view-as/end", {});
    await enterApp("users");
    say("Back to your own view.");
  });
});

async function loadUsersMap() {
  const r = await api("GET", "/api/users");
  state.users = new Map(r.users.map((u) => [u.id, u]));
  state.usersMasked = r.masked || [];
  return r;
}

/** Fills a <select> with the employees (and an "anyone" choice). */
function fillUserSelect(select, anyone) {
  const current = select.value;
  const options = anyone ? [h("option", { value: "" }, anyone)] : [];
  for (const u of state.users.values()) options.push(h("option", { value: u.id }, `${u.name} — ${u.role}`));
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

// ---- clients ---------------------------------------------------------------

async function loadClients() {
  const c = state.clients;
  const data = c.search
    ? await api("POST", "/api/clients/search", { phone: c.search })
    : await api("GET", `/api/clients${query({ offset: c.offset || undefined })}`);
  if (!c.search && data.clients.length === 0 && c.offset > 0) {
    c.offset = Math.max(0, c.offset - PAGE);
    say("No more clients.");
    $("clients-next").disabled = true;
    return;
  }
  c.list = data.clients;
  c.masked = data.masked || [];
  // A search by a masked phone is refused (it would confirm numbers one guess at a time).
  if (!c.search) $("search-form").hidden = !can("Client:search") || c.masked.includes("phone");
  for (const client of c.list) if (client.name !== undefined && !c.masked.includes("name")) state.clientNames.set(client.id, client.name);
  renderClients();
}

function renderClients() {
  const c = state.clients;
  const needle = c.filter.trim().toLowerCase();
  let rows = c.list.filter((x) => !needle || [x.name, x.phone, x.email].some((v) => v && v.toLowerCase().includes(needle)));
  if (c.sort) {
    rows = [...rows].sort((a, b) => String(a[c.sort] ?? "").localeCompare(String(b[c.sort] ?? ""), undefined, { numeric: true }) * c.dir);
  }
  for (const th of document.querySelectorAll("#clients-table th[data-col]")) {
    th.setAttribute("aria-sort", th.dataset.col === c.sort ? (c.dir > 0 ? "ascending" : "descending") : "none");
  }
  const tbody = $("client-rows");
  if (rows.length === 0) {
    emptyRow(tbody, 3, c.list.length ? "No client on this page matches the filter." : "No clients.");
  } else {
    tbody.replaceChildren(...rows.map((x) => h("tr", { class: "client", "data-id": x.id },
      h("th", { scope: "row", class: "name" },
        h("button", { type: "button", class: "link client-open", onclick: () => openClient(x.id) }, x.name === undefined ? "(hidden)" : x.name),
        c.masked.includes("name") ? maskedSign() : null),
      h("td", { class: "phone" }, value(x.phone, "phone", c.masked)),
      h("td", { class: "email" }, value(x.email, "email", c.masked)))));
  }
  if (c.search) {
    $("clients-range").textContent = `${c.list.length} found by phone`;
    $("clients-prev").disabled = true;
    $("clients-next").disabled = true;
  } else {
    $("clients-range").textContent = c.list.length ? `Clients ${c.offset + 1}–${c.offset + c.list.length}` : "No clients";
    $("clients-prev").disabled = c.offset === 0;
    $("clients-next").disabled = c.list.length < PAGE;
  }
}

for (const b of document.querySelectorAll("#clients-table button.sort")) {
  b.addEventListener("click", () => {
    const c = state.clients;
    if (c.sort === b.dataset.sort) c.dir = -c.dir;
    else { c.sort = b.dataset.sort; c.dir = 1; }
    renderClients();
  });
}

$("clients-filter").addEventListener("input", () => { state.clients.filter = $("clients-filter").value; renderClients(); });

$("clients-prev").addEventListener("click", () => attempt(async () => {
  state.clients.offset = Math.max(0, state.clients.offset - PAGE);
  await loadClients();
}));

$("clients-next").addEventListener("click", () => attempt(async () => {
  state.clients.offset += PAGE;
  await loadClients();
}));

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    state.clients.search = $("search-phone").value.trim() || null;
    await loadClients();
  });
});

$("show-all").addEventListener("click", () => attempt(async () => {
  state.clients.search = null;
  $("search-phone").value = "";
  await loadClients();
}));

$("export").addEventListener("click", () => attempt(async () => {
  const csv = await api("GET", "/api/clients/export");
  const a = h("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "clients.csv", class: "hidden" });
  document.body.append(a);
  a.click();
  a.remove();
  say("Exported clients.csv (a copy is kept for the owner).");
}));

$("client-add-open").addEventListener("click", () => {
  $("client-add").classList.remove("hidden");
  $("client-add-name").focus();
});
$("client-add-cancel").addEventListener("click", () => { $("client-add").classList.add("hidden"); $("client-add-open").focus(); });

$("client-add").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const r = await api("POST", "/api/clients", { name: $("client-add-name").value.trim(), phone: $("client-add-phone").value.trim(), email: $("client-add-email").value.trim() });
    for (const id of ["client-add-name", "client-add-phone", "client-add-email"]) $(id).value = "";
    $("client-add").classList.add("hidden");
    await loadClients();
    say(`Client added (${r.id}).`);
  });
});

async function openClient(id) {
  await attempt(async () => {
    const x = await api("GET", `/api/clients/${encodeURIComponent(id)}`);
    const masked = x.masked || [];
    state.clients.detail = x;
    const panel = $("client-detail");
    $("client-detail-title").textContent = x.name === undefined ? `Client ${x.id}` : x.name;
    $("client-fields").replaceChildren(
      h("dt", {}, "Name"), h("dd", {}, value(x.name, "name", masked)),
      h("dt", {}, "Phone"), h("dd", {}, value(x.phone, "phone", masked)),
      h("dt", {}, "E-mail"), h("dd", {}, value(x.email, "email", masked)),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, x.id)));
    for (const [field, input] of [["name", "client-edit-name"], ["phone", "client-edit-phone"], ["email", "client-edit-email"]]) {
      const open = x[field] !== undefined && !masked.includes(field);
      $(input).value = open ? x[field] : "";
      $(input).placeholder = open ? "" : "unchanged (not shown to you)";
    }
    $("client-booking-starts").value = localInput(nextHour());
    renderAttachments(x);
    renderInvoices(x);
    panel.classList.remove("hidden");
    $("clients-split").classList.add("open");
    $("client-detail-title").focus();
    if (can("Audit:read")) {
      const log = await api("GET", `/api/audit/access${query({ client: x.id })}`);
      renderAccess($("access-rows"), log.entries, true);
    }
  });
}

function renderAttachments(x) {
  const box = $("client-attachments");
  if (!x.attachments) { box.replaceChildren(); return; }
  const rows = x.attachments.map((a) => h("tr", {},
    h("th", { scope: "row" }, a.file_name),
    h("td", {}, a.ticket_closed ? when(a.ticket_closed) : "open"),
    h("td", {}, a.legal_hold ? h("span", { class: "badge warn" }, `hold: ${a.legal_hold}`) : "—"),
    h("td", {}, h("button", { type: "button", class: "small", onclick: () => showAttachment(a.id) }, "Show"))));
  box.replaceChildren(h("h3", {}, "Attachments"),
    rows.length
      ? h("table", { class: "data" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "Ticket closed"), h("th", { scope: "col" }, "Legal hold"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No attachments."),
    h("pre", { id: "attachment-body", class: "file hidden" }));
}

async function showAttachment(id) {
  await attempt(async () => {
    const f = await api("GET", `/api/attachments/${encodeURIComponent(id)}`);
    const pre = $("attachment-body");
    pre.textContent = `${f.file_name}\n\n${f.body}`;
    pre.classList.remove("hidden");
  });
}

function renderInvoices(x) {
  const box = $("client-invoices");
  if (!x.invoices) { box.replaceChildren(); return; }
  box.replaceChildren(h("h3", {}, "Invoices"),
    x.invoices.length
      ? h("table", { class: "data" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Invoice"), h("th", { scope: "col", class: "num" }, "Amount"), h("th", { scope: "col" }, "Created"))),
        h("tbody", {}, x.invoices.map((i) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, i.id)), h("td", { class: "num" }, money(i.amount_cents)), h("td", {}, when(i.created))))))
      : h("p", { class: "muted" }, "No invoices."));
}

/** Fields an access showed in clear, and those it masked. */
function fieldBadges(e) {
  const badges = [
    ...e.shown.map((f) => h("span", { class: "badge clear", title: "shown in clear" }, f)),
    ...e.masked.map((f) => h("span", { class: "badge", title: "masked" }, f, maskedSign())),
  ];
  return badges.length ? badges : "—";
}

/** Rows of a data-access log; `compact` leaves out the route and merges the fields. */
function renderAccess(tbody, entries, compact) {
  if (!entries.length) { emptyRow(tbody, compact ? 4 : 6, "No access recorded."); return; }
  tbody.replaceChildren(...entries.map((e) => (compact
    ? h("tr", { class: "access" }, h("td", {}, when(e.time)), h("td", {}, who(e.actor)), h("td", {}, h("code", {}, e.action)), h("td", {}, fieldBadges(e)))
    : h("tr", { class: "access" },
      h("td", {}, when(e.time)),
      h("td", {}, who(e.actor)),
      h("td", {}, h("code", {}, e.action)),
      h("td", {}, h("code", { class: "clip", title: e.resource }, e.resource)),
      h("td", {}, e.shown.length ? e.shown.map((f) => h("span", { class: "badge clear" }, f)) : "—"),
      h("td", {}, e.masked.length ? e.masked.map((f) => h("span", { class: "badge" }, f)) : "—")))));
}

function closeClient() {
  $("client-detail").classList.add("hidden");
  $("clients-split").classList.remove("open");
}

$("client-detail-close").addEventListener("click", () => {
  closeClient();
  const row = document.querySelector(`#client-rows tr[data-id="${CSS.escape(state.clients.detail ? state.clients.detail.id : "")}"] button`);
  if (row) row.focus();
});

$("client-edit").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const x = state.clients.detail;
  if (!x) return;
  attempt(async () => {
    const change = {};
    for (const [field, input] of [["name", "client-edit-name"], ["phone", "client-edit-phone"], ["email", "client-edit-email"]]) {
      const v = $(input).value.trim();
      if (v && v !== x[field]) change[field] = v;
    }
    if (!Object.keys(change).length) { say("Nothing changed."); return; }
    const r = await api("PUT", `/api/clients/${encodeURIComponent(x.id)}`, change);
    await loadClients();
    await openClient(x.id);
    say(`Saved: ${r.changed.join(", ")}.`);
  });
});

$("client-booking").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const x = state.clients.detail;
  if (!x) return;
  attempt(async () => {
    const r = await api("POST", `/api/clients/${encodeURIComponent(x.id)}/bookings`, {
      starts: unixOf($("client-booking-starts").value),
      minutes: Number($("client-booking-minutes").value),
      note: $("client-booking-note").value,
    });
    $("client-booking-note").value = "";
    say(`Booked (${r.id}).`);
  });
});

$("client-erase").addEventListener("click", async () => {
  const x = state.clients.detail;
  if (!x) return;
  if (!(await confirmAction("Erase this client?", `The client's personal data is deleted or crypto-shredded now, except what the law requires to keep (invoices). This cannot be undone.`, "Erase"))) return;
  await attempt(async () => {
    const r = await api("POST", `/api/clients/${encodeURIComponent(x.id)}/erasure`, {});
    closeClient();
    await loadClients();
    say(`Erased: ${r.executed.length} action(s) done, ${r.kept.length} kept by rule${r.failures.length ? `, ${r.failures.length} failure(s)` : ""}.`);
  });
});

function nextHour() {
  const d = new Date();
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  return d;
}

// ---- bookings --------------------------------------------------------------

async function loadBookings() {
  if (!$("bookings-from").value) {
    const d = new Date(Date.now() - 86400000);
    $("bookings-from").value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }
  if (!$("booking-starts").value) $("booking-starts").value = localInput(nextHour());
  if (can("Booking:create") && can("Client:read") && state.clients.list.length === 0) {
    const page = await api("GET", "/api/clients");
    state.clients.list = page.clients;
    state.clients.masked = page.masked || [];
    for (const x of page.clients) if (x.name !== undefined) state.clientNames.set(x.id, x.name);
  }
  $("booking-client").replaceChildren(...state.clients.list.map((x) => h("option", { value: x.id }, x.name === undefined ? x.id : x.name)));
  const r = await api("GET", `/api/bookings${query({ from: unixOf($("bookings-from").value) })}`);
  const tbody = $("booking-rows");
  if (!r.bookings.length) { emptyRow(tbody, 6, "No bookings from that day on."); return; }
  const masked = r.masked || [];
  tbody.replaceChildren(...r.bookings.map((b) => h("tr", { class: "booking", "data-id": b.id },
    h("td", {}, when(b.starts)),
    h("td", { class: "num" }, b.minutes),
    h("th", { scope: "row" }, state.clientNames.get(b.client) || b.client),
    h("td", {}, who(b.created_by)),
    h("td", {}, value(b.note, "note", masked)),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "small booking-edit", onclick: () => editBooking(b) }, "Edit"),
      h("button", { type: "button", class: "small danger booking-delete", onclick: () => deleteBooking(b) }, "Delete"),
      h("span", { class: "row-note", role: "status" })))));
}

/** Marks a booking row with the refusal its button met. */
function refusedInRow(id, e) {
  const row = document.querySelector(`#booking-rows tr[data-id="${CSS.escape(id)}"] .row-note`);
  if (row) row.textContent = e.status === 403 ? "refused" : "failed";
}

async function editBooking(b) {
  const values = await editDialog("Edit booking", [
    { name: "starts", label: "Starts", type: "datetime-local", value: localInput(new Date(b.starts * 1000)), required: true },
    { name: "minutes", label: "Minutes", type: "number", min: 5, max: 480, value: b.minutes, required: true },
    { name: "note", label: "Note", value: b.note },
  ]);
  if (!values) return;
  const change = {};
  if (unixOf(values.starts) !== b.starts) change.starts = unixOf(values.starts);
  if (Number(values.minutes) !== b.minutes) change.minutes = Number(values.minutes);
  if (values.note !== b.note) change.note = values.note;
  clearMessages();
  try {
    await api("PUT", `/api/bookings/${encodeURIComponent(b.id)}`, change);
    await loadBookings();
    say("Booking saved.");
  } catch (e) {
    fail(e);
    refusedInRow(b.id, e);
  }
}

async function deleteBooking(b) {
  if (!(await confirmAction("Delete this booking?", `The booking of ${state.clientNames.get(b.client) || b.client} is removed.`, "Delete"))) return;
  clearMessages();
  try {
    await api("DELETE", `/api/bookings/${encodeURIComponent(b.id)}`);
    await loadBookings();
    say("Booking deleted.");
  } catch (e) {
    fail(e);
    refusedInRow(b.id, e);
  }
}

$("bookings-filter").addEventListener("submit", (ev) => { ev.preventDefault(); attempt(loadBookings); });

$("booking-new").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const client = $("booking-client").value;
    if (!client) throw new Error("choose a client");
    const r = await api("POST", `/api/clients/${encodeURIComponent(client)}/bookings`, {
      starts: unixOf($("booking-starts").value),
      minutes: Number($("booking-minutes").value),
      note: $("booking-note").value,
    });
    $("booking-note").value = "";
    await loadBookings();
    say(`Booked (${r.id}).`);
  });
});

// ---- finance ---------------------------------------------------------------

async function loadFinance() {
  if (can("Invoice:read")) {
    const r = await api("GET", "/api/invoices");
    const tbody = $("invoice-rows");
    if (!r.invoices.length) emptyRow(tbody, 5, "No invoices.");
    else tbody.replaceChildren(...r.invoices.map((i) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, i.id)),
      h("td", {}, state.clientNames.get(i.client) || i.client),
      h("td", { class: "num" }, money(i.amount_cents)),
      h("td", {}, when(i.created)),
      h("td", { class: "actions" }, can("Payment:create") ? h("button", { type: "button", class: "small", onclick: () => payInvoice(i) }, "Record payment") : null))));
  }
  if (can("Payment:read")) {
    const r = await api("GET", "/api/payments");
    const tbody = $("payment-rows");
    if (!r.payments.length) emptyRow(tbody, 4, "No payments.");
    else tbody.replaceChildren(...r.payments.map((p) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, p.id)), h("td", {}, h("code", {}, p.invoice)),
      h("td", { class: "num" }, money(p.amount_cents)), h("td", {}, when(p.created)))));
  }
  if (can("Tariff:read")) {
    const r = await api("GET", "/api/tariffs");
    const tbody = $("tariff-rows");
    if (!r.tariffs.length) emptyRow(tbody, 3, "No tariffs.");
    else tbody.replaceChildren(...r.tariffs.map((t) => h("tr", {},
      h("th", { scope: "row" }, t.name), h("td", { class: "num" }, money(t.price_cents)),
      h("td", { class: "actions" }, can("Tariff:edit") ? h("button", { type: "button", class: "small", onclick: () => repriceTariff(t) }, "Change price") : null))));
  }
}

async function payInvoice(i) {
  const v = await editDialog(`Payment of invoice ${i.id}`, [{ name: "amount", label: "Amount", type: "number", min: 0.01, step: 0.01, value: money(i.amount_cents), required: true }], "Record");
  if (!v) return;
  await attempt(async () => {
    await api("POST", `/api/invoices/${encodeURIComponent(i.id)}/payments`, { amount_cents: Math.round(Number(v.amount) * 100) });
    await loadFinance();
    say("Payment recorded.");
  });
}

async function repriceTariff(t) {
  const v = await editDialog(`Price of ${t.name}`, [{ name: "price", label: "Price", type: "number", min: 0.01, step: 0.01, value: money(t.price_cents), required: true }]);
  if (!v) return;
  await attempt(async () => {
    await api("PUT", `/api/tariffs/${encodeURIComponent(t.id)}`, { amount_cents: Math.round(Number(v.price) * 100) });
    await loadFinance();
    say("Price changed.");
  });
}

$("tariff-new").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    await api("POST", "/api/tariffs", { name: $("tariff-name").value.trim(), price_cents: Math.round(Number($("tariff-price").value) * 100) });
    $("tariff-name").value = "";
    $("tariff-price").value = "";
    await loadFinance();
    say("Tariff added.");
  });
});

// ---- analytics and statistics ---------------------------------------------

/** A small horizontal bar (SVG attributes, no inline style). */
function bar(n, max) {
  const width = max ? Math.max(1, Math.round((n / max) * 120)) : 0;
  return svg("svg", { class: "bar", viewBox: "0 0 120 10", width: 120, height: 10, "aria-hidden": "true", focusable: "false" },
    svg("rect", { x: 0, y: 0, width, height: 10, rx: 2, fill: "currentColor" }));
}

async function loadAnalytics() {
  const a = await api("GET", "/api/analytics");
  const days = new Map();
  for (const [day, n] of a.new_clients) days.set(day, { clients: n, bookings: 0 });
  for (const [day, n] of a.bookings) days.set(day, { clients: (days.get(day) || {}).clients || 0, bookings: n });
  const sorted = [...days.entries()].sort((x, y) => y[0] - x[0]);
  const maxC = Math.max(0, ...sorted.map(([, v]) => v.clients));
  const maxB = Math.max(0, ...sorted.map(([, v]) => v.bookings));
  const fmtDay = (s) => new Date(s * 1000).toISOString().slice(0, 10);
  $("analytics-body").replaceChildren(
    h("div", { class: "kpis" },
      h("div", { class: "kpi" }, h("span", { class: "kpi-n" }, a.clients), h("span", {}, "clients in total")),
      h("div", { class: "kpi" }, h("span", { class: "kpi-n" }, a.new_clients.reduce((s, [, n]) => s + n, 0)), h("span", {}, `new in ${a.days} days`)),
      h("div", { class: "kpi" }, h("span", { class: "kpi-n" }, a.bookings.reduce((s, [, n]) => s + n, 0)), h("span", {}, `bookings in ${a.days} days`))),
    sorted.length
      ? h("table", { class: "data" },
        h("caption", { class: "sr-only" }, "Activity per day (UTC)"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day (UTC)"), h("th", { scope: "col" }, "New clients"), h("th", { scope: "col" }, "Bookings"))),
        h("tbody", {}, sorted.map(([day, v]) => h("tr", {},
          h("th", { scope: "row" }, fmtDay(day)),
          h("td", { class: "barcell" }, h("span", { class: "num-inline" }, v.clients), bar(v.clients, maxC)),
          h("td", { class: "barcell" }, h("span", { class: "num-inline" }, v.bookings), bar(v.bookings, maxB))))))
      : h("p", { class: "muted" }, "No activity in the window."));
}

async function loadStatistics() {
  const all = can("Statistics:read");
  $("statistics-scope").textContent = all ? "Every employee's work over the last days." : "Your own work over the last days.";
  const r = await api("GET", all ? "/api/statistics" : `/api/statistics/${encodeURIComponent(state.me.user)}`);
  const tbody = $("statistics-rows");
  if (!r.statistics.length) { emptyRow(tbody, 4, "No work recorded."); return; }
  tbody.replaceChildren(...r.statistics.map((s) => h("tr", {},
    h("th", { scope: "row" }, who(s.user)), h("td", { class: "num" }, s.days),
    h("td", { class: "num" }, s.clients_added), h("td", { class: "num" }, s.bookings_made))));
}

// ---- users and rights -------------------------------------------------------

async function loadUsers() {
  const r = await loadUsersMap();
  const masked = r.masked || [];
  $("user-add-role").replaceChildren(...ROLES.map((role) => h("option", { value: role, selected: role === "Operator" }, role)));
  $("rights-list").replaceChildren(...Object.entries(POLICY).flatMap(([t, actions]) => [...actions.map((a) => h("option", { value: `${t}:${a}` })), h("option", { value: `${t}:*` })]),
    ...["Client.name", "Client.phone", "Client.email"].map((f) => h("option", { value: f })));
  const tbody = $("user-rows");
  tbody.replaceChildren(...r.users.map((u) => {
    const self = u.id === state.me.user;
    const act = (label, cls, needs, handler) => (can(needs) && !self
      ? h("button", { type: "button", class: `small ${cls}`, "aria-label": `${label} ${u.name}`, onclick: () => handler(u) }, label)
      : null);
    return h("tr", { class: "user", "data-user": u.id },
      h("th", { scope: "row" }, value(u.name, "name", masked), self ? h("span", { class: "badge" }, "you") : null),
      h("td", {}, value(u.email, "email", masked)),
      h("td", {}, u.role),
      h("td", {}, u.totp ? h("span", { class: "badge ok" }, "on") : h("span", { class: "badge warn" }, "not enrolled")),
      h("td", {}, u.blocked ? h("span", { class: "badge bad" }, "blocked") : h("span", { class: "badge ok" }, "active")),
      h("td", { class: "actions" },
        act("Rights", "user-rights", "Account:set_rights", openRights),
        act("View as", "user-viewas", "Account:view_as", viewAs),
        u.blocked ? act("Unblock", "user-unblock", "Account:block", unblockUser) : act("Block", "user-block", "Account:block", blockUser),
        act("Reset 2FA", "user-reset", "Account:reset_factor", resetFactor),
        act("Unlock 2FA", "user-unlock", "Account:unlock_factor", unlockFactor),
        act("Delete", "danger user-delete", "Account:delete", deleteUser)));
  }));
  if (state.rightsOf && !state.users.has(state.rightsOf)) $("rights-panel").classList.add("hidden");
}

async function viewAs(u) {
  await attempt(async () => {
    await api("POST", `/api/users/${encodeURIComponent(u.id)}/view-as`, {});
    await enterApp();
    say(`Viewing the app as ${u.name}: their rights, masks and refusals; nothing can be changed.`);
  });
}

async function blockUser(u) {
  if (!(await confirmAction(`Block ${u.name}?`, "Every session of the account ends at once and it cannot sign in until unblocked.", "Block"))) return;
  await attempt(async () => {
    const r = await api("POST", `/api/users/${encodeURIComponent(u.id)}/block`, {});
    await loadUsers();
    say(`${u.name} blocked; ${r.sessions_ended || 0} session(s) ended.`);
  });
}

async function unblockUser(u) {
  await attempt(async () => {
    await api("POST", `/api/users/${encodeURIComponent(u.id)}/unblock`, {});
    await loadUsers();
    say(`${u.name} unblocked.`);
  });
}

async function resetFactor(u) {
  if (!(await confirmAction(`Reset the second factor of ${u.name}?`, "Their authenticator and recovery codes stop working, their sessions end, and their next sign-in enrolls a new authenticator.", "Reset"))) return;
  await attempt(async () => {
    const r = await api("POST", `/api/users/${encodeURIComponent(u.id)}/second-factor/reset`, {});
    await loadUsers();
    say(`Second factor of ${u.name} reset; ${r.sessions_ended || 0} session(s) ended.`);
  });
}

async function unlockFactor(u) {
  await attempt(async () => {
    await api("POST", `/api/users/${encodeURIComponent(u.id)}/second-factor/unlock`, {});
    say(`Second factor of ${u.name} unlocked.`);
  });
}

async function deleteUser(u) {
  if (!(await confirmAction(`Delete ${u.name}?`, "The account is removed with its rights, and its sessions end. Its past actions stay in the audit log.", "Delete"))) return;
  await attempt(async () => {
    await api("DELETE", `/api/users/${encodeURIComponent(u.id)}`);
    state.rightsMade.delete(u.id);
    await loadUsers();
    say(`${u.name} deleted.`);
  });
}

$("user-add-open").addEventListener("click", () => { $("user-add").classList.remove("hidden"); $("user-add-name").focus(); });
$("user-add-cancel").addEventListener("click", () => { $("user-add").classList.add("hidden"); $("user-add-open").focus(); });

$("user-add").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const name = $("user-add-name").value.trim();
    await api("POST", "/api/users", { name, email: $("user-add-email").value.trim(), role: $("user-add-role").value, password: $("user-add-password").value });
    for (const id of ["user-add-name", "user-add-email", "user-add-password"]) $(id).value = "";
    $("user-add").classList.add("hidden");
    await loadUsers();
    say(`${name} created; they enroll an authenticator at their first sign-in.`);
  });
});

function openRights(u) {
  state.rightsOf = u.id;
  $("rights-title").textContent = `Rights of ${u.name} (${u.role})`;
  renderRightsMade();
  $("rights-panel").classList.remove("hidden");
  $("rights-title").focus();
}

function renderRightsMade() {
  const id = state.rightsOf;
  const made = state.rightsMade.get(id) || [];
  const list = $("rights-made");
  if (!made.length) { list.replaceChildren(h("li", { class: "muted" }, "None yet.")); return; }
  list.replaceChildren(...made.map((m) => {
    const label = m.kind === "fields" ? `${m.what} ${m.visibility}` : `${m.kind} ${m.what}`;
    return h("li", { class: `chip ${m.kind}` }, label,
      h("button", { type: "button", class: "small", "aria-label": `Lift ${label}`, onclick: () => lift(m.kind, m.what) }, "Lift"));
  }));
}

function rememberRight(kind, what, visibility) {
  const id = state.rightsOf;
  const made = (state.rightsMade.get(id) || []).filter((m) => !(m.kind === kind && m.what === what));
  made.push({ kind, what, visibility });
  state.rightsMade.set(id, made);
}

function forgetRight(kind, what) {
  const id = state.rightsOf;
  state.rightsMade.set(id, (state.rightsMade.get(id) || []).filter((m) => !(m.kind === kind && m.what === what)));
}

$("rights-kind").addEventListener("change", () => {
  const field = $("rights-kind").value === "field";
  $("rights-field-wrap").classList.toggle("hidden", !field);
  $("rights-right-wrap").classList.toggle("hidden", field);
});

$("rights-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const u = state.users.get(state.rightsOf);
  if (!u) return;
  attempt(async () => {
    const kind = $("rights-kind").value;
    let body;
    let label;
    if (kind === "field") {
      const field = $("rights-field").value;
      const visibility = $("rights-visibility").value;
      body = { fields: { [field]: visibility } };
      label = `${field} ${visibility}`;
      await api("PUT", `/api/users/${encodeURIComponent(u.id)}/rights`, body);
      rememberRight("fields", field, visibility);
    } else {
      const right = $("rights-right").value.trim();
      if (!/^[A-Za-z]+:[a-z_*]+$/.test(right)) throw new Error("a right reads Type:action, e.g. Booking:delete");
      body = kind === "grant" ? { grant: [right] } : { deny: [right] };
      label = `${kind} ${right}`;
      await api("PUT", `/api/users/${encodeURIComponent(u.id)}/rights`, body);
      rememberRight(kind, right);
      $("rights-right").value = "";
    }
    renderRightsMade();
    say(`Rights of ${u.name} changed: ${label}.`);
  });
});

async function lift(kind, what) {
  const u = state.users.get(state.rightsOf);
  if (!u) return;
  await attempt(async () => {
    await api("DELETE", `/api/users/${encodeURIComponent(u.id)}/rights/${kind}/${encodeURIComponent(what)}`);
    forgetRight(kind, what);
    renderRightsMade();
    say(`Rights of ${u.name} changed: ${kind === "fields" ? "field setting" : kind} ${what} lifted.`);
  });
}

$("lift-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  lift($("lift-kind").value, $("lift-what").value.trim()).then(() => { $("lift-what").value = ""; });
});

$("rights-close").addEventListener("click", () => {
  $("rights-panel").classList.add("hidden");
  const b = document.querySelector(`#user-rows tr[data-user="${CSS.escape(state.rightsOf || "")}"] .user-rights`);
  state.rightsOf = null;
  if (b) b.focus();
});

// ---- logs ------------------------------------------------------------------

async function loadLogs() {
  fillUserSelect($("actions-user"), "anyone");
  $("access-clients").replaceChildren(...[...state.clientNames.entries()].map(([id, name]) => h("option", { value: id }, name)));
  if ($("tab-actions").getAttribute("aria-selected") === "true") await loadActions();
}

async function loadActions() {
  const r = await api("GET", `/api/audit/actions${query({
    user: $("actions-user").value,
    action: $("actions-action").value.trim(),
    from: unixOf($("actions-from").value),
    to: unixOf($("actions-to").value),
  })}`);
  state.actions = { entries: r.entries, page: 0 };
  renderActions();
}

function renderActions() {
  const { entries, page } = state.actions;
  const tbody = $("action-rows");
  const slice = entries.slice(page * LOG_PAGE, (page + 1) * LOG_PAGE);
  if (!slice.length) emptyRow(tbody, 8, "No actions match.");
  else tbody.replaceChildren(...slice.map((e) => h("tr", { class: `action outcome-${e.outcome}` },
    h("td", {}, when(e.time)),
    h("td", {}, who(e.actor)),
    h("td", {}, h("code", {}, e.action)),
    h("td", {}, h("code", { class: "clip" }, e.resource)),
    h("td", {}, h("span", { class: `badge ${e.outcome === "success" ? "ok" : "bad"}` }, e.outcome)),
    h("td", {}, h("span", { class: "clip", title: e.subjects.map(subjectName).join(", ") }, e.subjects.length > 3 ? `${e.subjects.slice(0, 3).map(subjectName).join(", ")} +${e.subjects.length - 3}` : e.subjects.map(subjectName).join(", ") || "—")),
    h("td", {}, e.shown.join(", ") || "—"),
    h("td", {}, e.masked.join(", ") || "—"))));
  const from = entries.length ? page * LOG_PAGE + 1 : 0;
  $("actions-range").textContent = `${from}–${page * LOG_PAGE + slice.length} of ${entries.length}${entries.length >= 500 ? " (newest 500)" : ""}`;
  $("actions-prev").disabled = page === 0;
  $("actions-next").disabled = (page + 1) * LOG_PAGE >= entries.length;
}

$("actions-filter").addEventListener("submit", (ev) => { ev.preventDefault(); attempt(loadActions); });
$("actions-prev").addEventListener("click", () => { state.actions.page -= 1; renderActions(); });
$("actions-next").addEventListener("click", () => { state.actions.page += 1; renderActions(); });

$("access-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const r = await api("GET", `/api/audit/access${query({
      client: $("access-client").value.trim(),
      field: $("access-field").value,
      from: unixOf($("access-from").value),
      to: unixOf($("access-to").value),
    })}`);
    renderAccess($("access-log-rows"), r.entries);
  });
});

function selectTab(tab) {
  for (const t of [$("tab-actions"), $("tab-access")]) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).classList.toggle("hidden", !on);
  }
  tab.focus();
}

for (const t of [$("tab-actions"), $("tab-access")]) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      ev.preventDefault();
      selectTab(t.id === "tab-actions" ? $("tab-access") : $("tab-actions"));
    }
  });
}

// ---- alerts, incidents, downloads -------------------------------------------

/** What each alert rule watches for (src/alerts.rs). */
const RULES = {
  bulk_export: "a client list left as a file",
  refusal_burst: "many refusals within a minute",
  mass_reads: "many different clients read within ten minutes",
  off_hours_read: "client data read outside working hours",
  view_as: "an administrator viewed the app as an employee",
  restore_drill_failed: "a backup's restore drill failed",
};

function detailText(detail) {
  if (detail && typeof detail === "object") {
    return Object.entries(detail).map(([k, v]) => `${k.replace(/_/g, " ")}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  }
  return String(detail ?? "");
}

async function loadAlerts() {
  const r = await api("GET", "/api/alerts");
  const tbody = $("alert-rows");
  if (!r.alerts.length) { emptyRow(tbody, 5, "No alerts."); return; }
  tbody.replaceChildren(...r.alerts.map((a) => h("tr", { class: "alert", "data-rule": a.rule },
    h("td", {}, when(a.raised)),
    h("td", { class: "rule" }, h("span", { class: `badge rule-${a.rule}` }, a.rule), h("span", { class: "muted small" }, RULES[a.rule] || "")),
    h("td", {}, who(a.actor)),
    h("td", {}, detailText(a.detail)),
    h("td", { class: "num" }, a.record ?? "—"))));
}

$("alerts-refresh").addEventListener("click", () => attempt(loadAlerts));

async function loadIncidents() {
  fillUserSelect($("incident-user"));
  if (!$("incident-from").value) {
    $("incident-from").value = localInput(new Date(Date.now() - 86400000));
    $("incident-to").value = localInput(nextHour());
  }
}

$("incident-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const r = await api("GET", `/api/incidents/report${query({ user: $("incident-user").value, from: unixOf($("incident-from").value), to: unixOf($("incident-to").value) })}`);
    const left = r.notify_authority_by - Math.floor(Date.now() / 1000);
    const hours = Math.max(0, Math.floor(left / 3600));
    $("incident-report").replaceChildren(
      h("div", { class: "deadline", role: "note" },
        h("strong", {}, "Notify the supervisory authority by "), when(r.notify_authority_by),
        ` (${hours} h left; GDPR art. 33). Detected `, when(r.detected), "."),
      h("h2", {}, `${r.subjects.length} data subject(s) accessed by ${who(r.user)}`),
      r.subjects.length
        ? h("table", { class: "data", id: "incident-subjects" },
          h("thead", {}, h("tr", {}, ...["Subject", "Name", "In clear", "Masked", "Accesses", "First", "Last"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, r.subjects.map((s) => h("tr", {},
            h("th", { scope: "row" }, h("code", {}, s.subject)),
            h("td", {}, s.name ?? "(erased)"),
            h("td", {}, s.fields_in_clear.map((f) => h("span", { class: "badge clear" }, f))),
            h("td", {}, s.fields_masked.map((f) => h("span", { class: "badge" }, f))),
            h("td", { class: "num" }, s.accesses),
            h("td", {}, when(s.first)),
            h("td", {}, when(s.last))))))
        : h("p", { class: "muted" }, "No data subject accessed in the window."),
      r.notices.length ? h("h2", {}, "Draft notices (GDPR art. 34)") : "",
      ...r.notices.map((n) => h("details", { class: "notice" }, h("summary", {}, `Notice to ${subjectName(n.subject)}`), h("pre", { class: "file" }, n.text))));
    $("incident-report").querySelector("h2").setAttribute("tabindex", "-1");
    $("incident-report").querySelector("h2").focus();
  });
});

async function loadDownloads() {
  const r = await api("GET", "/api/downloads");
  const tbody = $("download-rows");
  if (!r.downloads.length) { emptyRow(tbody, 6, "No downloads yet."); return; }
  tbody.replaceChildren(...r.downloads.map((d) => h("tr", { class: "download" },
    h("td", {}, when(d.created)), h("td", {}, who(d.user)), h("th", { scope: "row" }, d.file_name),
    h("td", { class: "num" }, d.bytes), h("td", {}, h("code", { class: "hash", title: d.sha256 }, `${d.sha256.slice(0, 16)}…`)),
    h("td", { class: "actions" }, h("button", { type: "button", class: "small", onclick: () => showDownload(d) }, "Show copy")))));
}

async function showDownload(d) {
  await attempt(async () => {
    const f = await api("GET", `/api/downloads/${encodeURIComponent(d.id)}`);
    $("download-view-title").textContent = `Copy of ${f.file_name} (${when(d.created).textContent}, ${who(d.user)})`;
    $("download-content").textContent = f.content;
    $("download-view").classList.remove("hidden");
    $("download-view-title").focus();
  });
}

// ---- settings and own account -----------------------------------------------

async function loadSettings() {
  const s = await api("GET", "/api/settings");
  $("settings-starts").value = s.work_starts;
  $("settings-ends").value = s.work_ends;
  $("settings-webhook").value = s.alert_webhook || "";
  const editable = can("Settings:edit");
  for (const id of ["settings-starts", "settings-ends", "settings-webhook"]) $(id).readOnly = !editable;
}

$("settings-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    await api("PUT", "/api/settings", {
      work_starts: Number($("settings-starts").value),
      work_ends: Number($("settings-ends").value),
      alert_webhook: $("settings-webhook").value.trim() || null,
    });
    await loadSettings();
    say("Settings saved.");
  });
});

async function loadAccount() {
  const me = state.me;
  $("account-fields").replaceChildren(
    h("dt", {}, "Name"), h("dd", {}, me.name),
    h("dt", {}, "E-mail"), h("dd", {}, me.email),
    h("dt", {}, "Role"), h("dd", {}, me.role),
    h("dt", {}, "Company"), h("dd", {}, me.tenant),
    h("dt", {}, "User id"), h("dd", {}, h("code", {}, me.user)));
  $("account-permissions").replaceChildren(...[...state.perms].sort().map((p) => h("li", { class: "chip" }, p)));
}

$("password-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  attempt(async () => {
    if ($("pw-new").value !== $("pw-again").value) throw new Error("the two new passwords differ");
    const r = await api("POST", "/api/me/password", { current: $("pw-current").value, new: $("pw-new").value });
    for (const id of ["pw-current", "pw-new", "pw-again"]) $(id).value = "";
    say(`Password changed; ${r.sessions_ended} other session(s) ended.`);
  });
});

// ---- start -------------------------------------------------------------------

enterApp().catch(() => showGate("signin"));
