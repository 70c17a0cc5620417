// Opens N WebSockets to one URL and holds them, for perf/report's "WebSocket" section.
//   node open.mjs URL --sockets N [--parallel 256] [--timeout-s 60]
// 1. opens N sockets, at most --parallel handshakes in flight; prints
//    OPENED {"opened", "failed", "errors", "open_ms"} and holds them, idle;
// 2. on the line "echo" (stdin) sends one 32-byte text message on every socket at once and
//    prints ECHOED {"sent", "echoed", "all_ms", "p50_ms", "p99_ms", "max_ms", "closed"}
//    (all_ms: from the first send to the last echo; p* per message);
// 3. on "close" (or EOF) closes them all and exits.  Everything is bounded by --timeout-s.
import readline from "node:readline";
import { WebSocket } from "./ws.mjs";

const args = process.argv.slice(2);
const url = args.shift();
const opt = { sockets: "1000", parallel: "256", "timeout-s": "60" };
while (args.length) opt[args.shift().replace(/^--/, "")] = args.shift();
const total = Number(opt.sockets);
const parallel = Number(opt.parallel);
const timeoutMs = Number(opt["timeout-s"]) * 1000;

const sockets = [];
const errors = {};
let failed = 0;
let closedEarly = 0;
const note = (what) => { errors[what] = (errors[what] || 0) + 1; };

function openOne() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    let done = false;
    ws.on("open", () => { done = true; sockets.push(ws); resolve(); });
    ws.on("unexpected-response", (req, res) => {
      if (!done) { done = true; failed++; note(`HTTP ${res.statusCode}`); resolve(); }
      req.destroy();
    });
    ws.on("error", (err) => {
      if (!done) { done = true; failed++; note(err.code || err.message); resolve(); }
    });
    ws.on("close", () => { if (done) closedEarly++; });
  });
}

const t0 = process.hrtime.bigint();
const deadline = Date.now() + timeoutMs;
let started = 0;
async function lane() {
  while (started < total && Date.now() < deadline) {
    started++;
    await openOne();
  }
}
await Promise.all(Array.from({ length: Math.min(parallel, total) }, lane));
const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
console.log("OPENED " + JSON.stringify({ opened: sockets.length, failed, not_started: total - started,
                                         errors, open_ms: Math.round(openMs) }));

function echoAll() {
  return new Promise((resolve) => {
    const rtts = [];
    const message = "x".repeat(32);
    const start = process.hrtime.bigint();
    const live = sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
    let pending = live.length;
    const finish = () => {
      const sorted = rtts.sort((a, b) => a - b);
      const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : null);
      const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
      resolve({ sent: live.length, echoed: rtts.length, closed: closedEarly,
                all_ms: r3(Number(process.hrtime.bigint() - start) / 1e6),
                p50_ms: r3(pct(50)), p99_ms: r3(pct(99)), max_ms: r3(sorted.length ? sorted[sorted.length - 1] : null) });
    };
    const timer = setTimeout(finish, timeoutMs);
    if (pending === 0) { clearTimeout(timer); finish(); return; }
    for (const ws of live) {
      const sent = process.hrtime.bigint();
      ws.once("message", () => {
        rtts.push(Number(process.hrtime.bigint() - sent) / 1e6);
        if (--pending === 0) { clearTimeout(timer); finish(); }
      });
      ws.send(message);
    }
  });
}

const guard = setTimeout(() => { console.log("TIMEOUT"); process.exit(2); }, 3 * timeoutMs);
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === "echo") console.log("ECHOED " + JSON.stringify(await echoAll()));
  else if (line.trim() === "close") break;
}
clearTimeout(guard);
for (const ws of sockets) ws.terminate();
process.exit(0);
