// Status change -> WebSocket push latency through the balancer (perf/services).
//   node ws_latency.mjs BASE_URL --token T --courier C --product ID --count N
// For each of N orders (placed by the user, not timed): the courier sets "paid" and the clock
// runs from sending that request until the user's socket receives the event. Prints one JSON
// line: {"n", "p50_ms", "p90_ms", "p99_ms", "max_ms", "after_answer_p50_ms", ...}, where
// after_answer_* runs from the status request's answer (the commit) instead.
import WebSocket from "ws";
import http from "node:http";

const args = process.argv.slice(2);
const base = new URL(args.shift());
const opt = {};
while (args.length) opt[args.shift().replace(/^--/, "")] = args.shift();
const count = Number(opt.count || 100);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, path, token, body) {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const req = http.request({ host: base.hostname, port: base.port, method, path, agent,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json",
                 ...(data ? { "Content-Length": Buffer.byteLength(data) } : {}) } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

const waiting = new Map();  // id_order -> resolve(time)
const ws = new WebSocket(`ws://${base.host}/ws/notifications?access_token=${opt.token}`);
ws.on("message", (data) => {
  const now = process.hrtime.bigint();
  const event = JSON.parse(data.toString());
  const key = `${event.id_order}:${event.status}`;
  const done = waiting.get(key);
  if (done) {
    waiting.delete(key);
    done(now);
  }
});
await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });

const fromSend = [];
const fromAnswer = [];
const deadline = Date.now() + 120000;
for (let i = 0; i < count && Date.now() < deadline; i++) {
  const placed = await request("POST", "/api/orders", opt.token, { id_produk: Number(opt.product), jumlah: 1 });
  if (placed.status !== 201) throw new Error(`order: ${placed.status} ${placed.body}`);
  const id = JSON.parse(placed.body).id_order;
  const pushed = new Promise((resolve) => waiting.set(`${id}:paid`, resolve));
  const t0 = process.hrtime.bigint();
  const r = await request("POST", `/api/orders/${id}/status`, opt.courier, { status: "paid" });
  const t1 = process.hrtime.bigint();
  if (r.status !== 200) throw new Error(`status: ${r.status} ${r.body}`);
  const t2 = await Promise.race([pushed, new Promise((res) => setTimeout(() => res(null), 10000))]);
  if (t2 === null) throw new Error(`no push for order ${id} within 10 s`);
  fromSend.push(Number(t2 - t0) / 1e6);
  fromAnswer.push(Math.max(0, Number(t2 - t1) / 1e6));
}
ws.close();
agent.destroy();

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r3 = (x) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({
  n: fromSend.length,
  p50_ms: r3(pct(fromSend, 50)), p90_ms: r3(pct(fromSend, 90)), p99_ms: r3(pct(fromSend, 99)),
  max_ms: r3(Math.max(...fromSend)),
  after_answer_p50_ms: r3(pct(fromAnswer, 50)), after_answer_p99_ms: r3(pct(fromAnswer, 99)),
}));
