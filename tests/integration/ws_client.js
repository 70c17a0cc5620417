#!/usr/bin/env node
// WebSocket client for the integration tests:
//   node ws_client.js --url ws://127.0.0.1:P/path [--texts N] [--binary-bytes N] [--timeout-ms N]
// Expects the server greeting, sends N text messages and one binary message of the given size
// (random bytes), checks each echo (type and content), closes with 1000 and prints a JSON
// report on stdout. Exit 0 when everything matched, 1 on a mismatch or error, 2 on timeout.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const url = arg('url');
const texts = Number(arg('texts', '5'));
const binaryBytes = Number(arg('binary-bytes', String(1024 * 1024)));
const timeoutMs = Number(arg('timeout-ms', '15000'));

const report = { url, greeting: null, texts_ok: 0, binary_ok: false, close_code: null, errors: [] };
function finish(code) {
  console.log(JSON.stringify(report));
  process.exit(code);
}
setTimeout(() => { report.errors.push(`timeout after ${timeoutMs} ms`); finish(2); }, timeoutMs);

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
const binary = crypto.randomBytes(binaryBytes);
// Expected messages after the greeting, in order.
const expected = [];
for (let i = 0; i < texts; i++) expected.push({ binary: false, data: `message ${i} ` + 'é'.repeat(i * 10) });
expected.push({ binary: true, data: binary });

const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
ws.on('upgrade', (res) => { report.upgrade_backend = res.headers['x-backend'] || null; });
ws.on('unexpected-response', (req, res) => {
  report.errors.push(`unexpected HTTP response ${res.statusCode}`);
  finish(1);
});
ws.on('error', (err) => { report.errors.push(`error: ${err.message}`); finish(1); });
ws.on('message', (data, isBinary) => {
  if (report.greeting === null) {
    report.greeting = isBinary ? '<binary>' : data.toString();
    for (const m of expected) ws.send(m.data, { binary: m.binary });
    return;
  }
  const want = expected.shift();
  if (!want) { report.errors.push('unexpected extra message'); return; }
  if (want.binary !== isBinary) {
    report.errors.push(`message type: expected ${want.binary ? 'binary' : 'text'}`);
  } else if (isBinary) {
    report.binary_ok = data.length === want.data.length && sha(data) === sha(want.data);
    if (!report.binary_ok) report.errors.push(`binary echo differs: got ${data.length} bytes`);
  } else if (data.toString() === want.data) {
    report.texts_ok++;
  } else {
    report.errors.push(`text echo differs: ${data.toString().slice(0, 80)}`);
  }
  if (expected.length === 0) ws.close(1000, 'done');
});
ws.on('close', (code) => {
  report.close_code = code;
  if (report.greeting === null) report.errors.push(`closed (${code}) before the server greeting arrived`);
  else if (expected.length > 0) report.errors.push(`closed (${code}) with ${expected.length} echoes missing`);
  const ok = report.errors.length === 0 && expected.length === 0 && report.greeting !== null && code === 1000;
  finish(ok ? 0 : 1);
});
