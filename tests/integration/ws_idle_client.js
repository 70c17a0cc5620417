#!/usr/bin/env node
// WebSocket client for tunnel idle timeouts:
//   node ws_idle_client.js --url ws://127.0.0.1:P/path [--interval-ms 300] [--duration-ms 2000]
//                          [--timeout-ms 10000]
// After the server greeting it sends a text message every interval for duration (each is
// echoed by ws_server.js), then goes silent and waits for the connection to be closed. Prints a
// JSON report: sent, echoed, closed_while_talking (closed before the talking phase ended),
// silent_ms (from the last byte either way to the close), close_code, errors.
// Exit 0 when closed (by anyone), 1 on an error, 2 when still open after timeout-ms.
'use strict';
const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const url = arg('url');
const intervalMs = Number(arg('interval-ms', '300'));
const durationMs = Number(arg('duration-ms', '2000'));
const timeoutMs = Number(arg('timeout-ms', '10000'));

const report = { url, sent: 0, echoed: 0, closed_while_talking: false, silent_ms: null,
                 close_code: null, errors: [] };
function finish(code) {
  console.log(JSON.stringify(report));
  process.exit(code);
}
setTimeout(() => { report.errors.push(`still open after ${timeoutMs} ms`); finish(2); }, timeoutMs);

let lastByteAt = Date.now();
let talking = true;
let timer = null;
const ws = new WebSocket(url);
ws.on('unexpected-response', (req, res) => {
  report.errors.push(`unexpected HTTP response ${res.statusCode}`);
  finish(1);
});
ws.on('error', (err) => { report.errors.push(`error: ${err.message}`); });
ws.on('message', (data) => {
  lastByteAt = Date.now();
  if (timer !== null) {
    report.echoed++;
    return;
  }
  // The greeting: start talking.
  const start = Date.now();
  timer = setInterval(() => {
    if (Date.now() - start >= durationMs) {
      clearInterval(timer);
      talking = false;
      return;
    }
    ws.send(`ping ${report.sent}`);
    report.sent++;
    lastByteAt = Date.now();
  }, intervalMs);
});
ws.on('close', (code) => {
  report.close_code = code;
  report.closed_while_talking = talking;
  report.silent_ms = Date.now() - lastByteAt;
  if (timer !== null) clearInterval(timer);
  finish(report.errors.length === 0 ? 0 : 1);
});
