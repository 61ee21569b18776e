// The back office page: sign-in, second factor or enrollment, client list.
// No inline script (the Content-Security-Policy forbids it); text is
// inserted with textContent, never as HTML, except the server's QR SVG.
"use strict";

const $ = (id) => document.getElementById(id);
const show = (id) => {
  for (const s of ["signin", "totp", "enroll", "clients"]) $(s).classList.toggle("hidden", s !== id);
};
const say = (text) => { $("message").textContent = text || ""; };

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((data && data.error) || response.statusText);
  return data;
}

async function afterPassword(stage) {
  if (stage === "totp") { show("totp"); $("code").focus(); return; }
  if (stage === "enroll") {
    const e = await api("POST", "/api/totp/enroll", {});
    $("qr").innerHTML = e.qr_svg; // SVG made by the server from the key URI
    $("enroll-secret").textContent = e.secret;
    show("enroll");
    return;
  }
  await loadClients();
}

function render(list) {
  const rows = $("client-rows");
  rows.textContent = "";
  for (const c of list.clients) {
    const tr = document.createElement("tr");
    tr.className = "client";
    for (const v of [c.name, c.phone, c.email]) {
      const td = document.createElement("td");
      td.textContent = v === undefined ? "—" : v;
      tr.appendChild(td);
    }
    rows.appendChild(tr);
  }
}

async function loadClients() {
  const me = await api("GET", "/api/me");
  $("whoami").textContent = `${me.name} (${me.role}), tenant ${me.tenant}`;
  render(await api("GET", "/api/clients"));
  show("clients");
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); say();
  try {
    const r = await api("POST", "/api/login", { tenant: $("tenant").value, email: $("email").value, password: $("password").value });
    $("password").value = "";
    await afterPassword(r.stage);
  } catch (e) { say(e.message); }
});

$("totp-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); say();
  const body = $("recovery").value ? { recovery_code: $("recovery").value } : { code: $("code").value };
  try {
    await api("POST", "/api/login/second-factor", body);
    $("code").value = ""; $("recovery").value = "";
    await loadClients();
  } catch (e) { say(e.message); }
});

$("enroll-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); say();
  try {
    const r = await api("POST", "/api/totp/confirm", { code: $("enroll-code").value });
    $("qr").textContent = ""; $("enroll-secret").textContent = "";
    $("recovery-list").textContent = r.recovery_codes.join("\n");
    $("recovery-codes").classList.remove("hidden");
    await loadClients();
  } catch (e) { say(e.message); }
});

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); say();
  try { render(await api("POST", "/api/clients/search", { phone: $("search-phone").value })); }
  catch (e) { say(e.message); }
});

$("show-all").addEventListener("click", async () => {
  say();
  try { render(await api("GET", "/api/clients")); } catch (e) { say(e.message); }
});

$("export").addEventListener("click", async () => {
  say();
  try {
    const csv = await api("GET", "/api/clients/export");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    a.download = "clients.csv"; a.click();
  } catch (e) { say(e.message); }
});

$("signout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } catch (e) { /* already out */ }
  $("recovery-codes").classList.add("hidden");
  show("signin");
});

api("GET", "/api/me").then((me) => (me.stage === "ok" ? loadClients() : show("signin"))).catch(() => show("signin"));
