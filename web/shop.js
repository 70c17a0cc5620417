// The storefront: sign in, list products, place an order and watch its status change live.
// Plain browser JavaScript, no build step and nothing from outside this folder. It talks to
// the balancer it was served by (same origin):
//   POST /api/auth/login          -> {access_token}
//   GET  /api/products?limit=50   -> {items: [...]} (cached at the edge)
//   POST /api/orders, GET /api/orders (Bearer token)
//   GET  /ws/notifications?access_token=...  pushes {"type":"order.status", id_order, status}
"use strict";

const TOKEN_KEY = "shop.token";
const EMAIL_KEY = "shop.email";
// A status only moves forward: a late answer must not undo a pushed "shipped".
const RANK = { created: 0, paid: 1, shipped: 2, delivered: 3, cancelled: 3 };
const rupiah = new Intl.NumberFormat("id-ID", { style: "currency", currency: "IDR",
                                                 maximumFractionDigits: 0 });

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  email: sessionStorage.getItem(EMAIL_KEY) || "",
  products: new Map(),   // id -> product
  socket: null,
  lastEventId: "",
  retryMs: 1000,
};

function say(text, isError = false) {
  const line = $("message");
  line.textContent = text;
  line.classList.toggle("error", isError);
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (method === "POST" && path === "/api/orders") headers["Idempotency-Key"] = newKey();
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (response.status === 401 && state.token) signOut("Your session ended: please sign in again.");
  if (!response.ok) {
    const reason = (data && data.error) || response.statusText;
    throw new Error(`${method} ${path}: ${response.status} ${reason}`);
  }
  return data;
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// ---- products

async function loadProducts() {
  try {
    const page = await api("GET", "/api/products?limit=50");
    state.products = new Map(page.items.map((p) => [p.id, p]));
    renderProducts();
  } catch (e) {
    say(`Could not load the products (${e.message}).`, true);
  }
}

function renderProducts() {
  const body = $("products").tBodies[0];
  body.replaceChildren();
  for (const p of state.products.values()) {
    const row = body.insertRow();
    row.dataset.product = p.id;
    row.insertCell().textContent = p.name;
    const price = row.insertCell();
    price.textContent = rupiah.format(p.price);
    price.className = "number";
    const stock = row.insertCell();
    stock.textContent = p.stock;
    stock.className = "number";
    const qty = document.createElement("input");
    Object.assign(qty, { type: "number", min: 1, max: Math.max(1, p.stock), value: 1 });
    qty.setAttribute("aria-label", `Quantity of ${p.name}`);
    row.insertCell().append(qty);
    const order = document.createElement("button");
    order.type = "button";
    order.textContent = "Order";
    order.setAttribute("aria-label", `Order ${p.name}`);
    order.disabled = !state.token || p.stock < 1;
    order.addEventListener("click", () => placeOrder(p, Number(qty.value), order));
    row.insertCell().append(order);
  }
}

// ---- orders

async function placeOrder(product, jumlah, button) {
  if (!Number.isInteger(jumlah) || jumlah < 1) {
    say("Choose a quantity of at least 1.", true);
    return;
  }
  button.disabled = true;
  try {
    const order = await api("POST", "/api/orders", { id_produk: product.id, jumlah });
    showOrder(order);
    say(`Order #${order.id_order} placed: ${jumlah} × ${product.name}.`);
  } catch (e) {
    say(`The order failed (${e.message}).`, true);
  } finally {
    button.disabled = !state.token;
  }
}

async function loadOrders() {
  try {
    const page = await api("GET", "/api/orders");
    for (const order of page.orders.slice().reverse()) showOrder(order);
  } catch (e) {
    say(`Could not load your orders (${e.message}).`, true);
  }
}

// Adds the order's row, or moves its status forward.
function showOrder(order) {
  const body = $("orders").tBodies[0];
  let row = body.querySelector(`tr[data-order="${order.id_order}"]`);
  if (!row) {
    row = body.insertRow(0);
    row.dataset.order = order.id_order;
    for (let i = 0; i < 5; i++) row.insertCell();
    row.cells[0].textContent = `#${order.id_order}`;
    row.cells[2].className = row.cells[3].className = "number";
  }
  const product = state.products.get(order.id_produk);
  if (order.id_produk !== undefined) {
    row.cells[1].textContent = product ? product.name : `Product ${order.id_produk}`;
  }
  if (order.jumlah !== undefined) row.cells[2].textContent = order.jumlah;
  if (order.total_harga !== undefined) row.cells[3].textContent = rupiah.format(order.total_harga);
  const cell = row.cells[4];
  const before = cell.dataset.status;
  if (order.status && (!before || (RANK[order.status] ?? 0) >= (RANK[before] ?? 0))) {
    cell.dataset.status = order.status;
    cell.textContent = order.status;
    cell.className = `status status-${order.status}`;
  }
}

// ---- live status over the WebSocket

function connect() {
  if (!state.token || state.socket) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let url = `${scheme}://${location.host}/ws/notifications?access_token=` +
            encodeURIComponent(state.token);
  if (state.lastEventId) url += `&last_event_id=${encodeURIComponent(state.lastEventId)}`;
  $("live").textContent = "Live updates: connecting…";
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retryMs = 1000;
    $("live").textContent = "Live updates: on";
  });
  socket.addEventListener("message", (event) => {
    let note;
    try { note = JSON.parse(event.data); } catch { return; }
    if (note.type !== "order.status") return;
    if (note.event_id) state.lastEventId = note.event_id;
    showOrder(note);
    say(`Order #${note.id_order} is now ${note.status}.`);
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (!state.token) {
      $("live").textContent = "Live updates: off";
      return;
    }
    // Reconnect with last_event_id: nothing pushed meanwhile is lost.
    $("live").textContent = "Live updates: reconnecting…";
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  });
}

// ---- signing in and out

async function signIn(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  try {
    const answer = await api("POST", "/api/auth/login", { email, password: $("password").value });
    state.token = answer.access_token;
    state.email = email;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    sessionStorage.setItem(EMAIL_KEY, email);
    $("password").value = "";
    say(`Signed in as ${email}.`);
    signedIn();
  } catch (e) {
    say(`Sign-in failed (${e.message}).`, true);
  }
}

function signedIn() {
  $("who").textContent = `Signed in as ${state.email}.`;
  $("logout").hidden = false;
  $("login-section").hidden = true;
  renderProducts();
  loadOrders();
  connect();
}

function signOut(text = "Signed out.") {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(EMAIL_KEY);
  if (state.socket) {
    const socket = state.socket;
    state.socket = null;
    socket.close();
  }
  $("who").textContent = "Not signed in.";
  $("logout").hidden = true;
  $("login-section").hidden = false;
  $("live").textContent = "Live updates: off";
  $("orders").tBodies[0].replaceChildren();
  renderProducts();
  say(text);
}

$("login").addEventListener("submit", signIn);
$("logout").addEventListener("click", () => signOut());
loadProducts().then(() => { if (state.token) signedIn(); });
