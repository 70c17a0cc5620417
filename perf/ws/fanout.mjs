// Status-event fan-out through the whole stack (perf/services --fanout N).
//   node fanout.mjs BASE_URL --courier TOKEN --product ID --users N [--parallel 16] [--timeout-s 60]
// Set-up (not timed): N accounts are made and logged in, each places one order and opens
// its own socket to /ws/notifications through the balancer.  Then the courier sets every
// order "paid", --parallel requests at a time, and the clock runs until each owner's socket
// has the event.  Prints one JSON line: users, sockets, status_ms (first status request to
// the last answer), all_ms (first status request to the last push), per-event latency from
// its status request (p50/p90/p99/max), missing and duplicate events, errors.
import http from "node:http";
import { WebSocket } from "./ws.mjs";

const args = process.argv.slice(2);
const base = new URL(args.shift());
const opt = { parallel: "16", "timeout-s": "60" };
while (args.length) opt[args.shift().replace(/^--/, "")] = args.shift();
const users = Number(opt.users);
const parallel = Number(opt.parallel);
const deadline = Date.now() + Number(opt["timeout-s"]) * 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
const run = Date.now().toString(36);

function request(method, path, token, body) {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (data) headers["Content-Length"] = Buffer.byteLength(data);
    const req = http.request({ host: base.hostname, port: base.port, method, path, agent, headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

async function expect(status, method, path, token, body) {
  const r = await request(method, path, token, body);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 200)}`);
  return r.body ? JSON.parse(r.body) : null;
}

// runs fn(i) for i in 0..n-1, `parallel` at a time
async function each(n, fn) {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      if (Date.now() > deadline) throw new Error("set-up did not finish in time");
      await fn(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
}

const arrived = new Map();   // id_order -> hrtime of the "paid" push
const sentAt = new Map();    // id_order -> hrtime its status request was sent
let duplicates = 0;
let allArrived = null;
const allDone = new Promise((resolve) => (allArrived = resolve));

const members = new Array(users);
await each(users, async (i) => {
  const email = `fanout-${run}-${i}@example.com`;
  await expect(201, "POST", "/api/users", null, { email, password: "fanout-password" });
  const { access_token: token } = await expect(200, "POST", "/api/auth/login", null,
                                                { email, password: "fanout-password" });
  const order = await expect(201, "POST", "/api/orders", token, { id_produk: Number(opt.product), jumlah: 1 });
  members[i] = { token, order: order.id_order };
});
const sockets = [];
await each(users, (i) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${base.host}/ws/notifications?access_token=${members[i].token}`,
                           { perMessageDeflate: false });
  ws.on("open", () => { sockets.push(ws); resolve(); });
  ws.on("error", reject);
  ws.on("message", (data) => {
    const now = process.hrtime.bigint();
    const event = JSON.parse(data.toString());
    if (event.type !== "order.status" || event.status !== "paid" || !sentAt.has(event.id_order)) return;
    if (arrived.has(event.id_order)) { duplicates++; return; }
    arrived.set(event.id_order, now);
    if (arrived.size === users) allArrived(now);
  });
}));

const errors = [];
const t0 = process.hrtime.bigint();
await each(users, async (i) => {
  const id = members[i].order;
  sentAt.set(id, process.hrtime.bigint());
  const r = await request("POST", `/api/orders/${id}/status`, opt.courier, { status: "paid" });
  if (r.status !== 200) errors.push(`status of order ${id}: ${r.status} ${r.body.slice(0, 120)}`);
}).catch((e) => errors.push(String(e)));
const tAnswered = process.hrtime.bigint();
const left = Math.max(1000, deadline - Date.now());
const tLast = await Promise.race([allDone, new Promise((res) => setTimeout(() => res(null), left))]);
await new Promise((res) => setTimeout(res, 200));   // late duplicates, if any

const lat = [...arrived].map(([id, t]) => Number(t - sentAt.get(id)) / 1e6).sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : null);
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);
console.log(JSON.stringify({
  users, sockets: sockets.length, pushes: arrived.size, missing: users - arrived.size, duplicates,
  parallel, status_ms: r1(Number(tAnswered - t0) / 1e6),
  all_ms: tLast === null ? null : r1(Number(tLast - t0) / 1e6),
  p50_ms: r1(pct(50)), p90_ms: r1(pct(90)), p99_ms: r1(pct(99)), max_ms: r1(lat.length ? lat[lat.length - 1] : null),
  errors: errors.slice(0, 5),
}));
for (const ws of sockets) ws.terminate();
agent.destroy();
process.exit(0);
