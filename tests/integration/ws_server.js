#!/usr/bin/env node
// WebSocket echo origin for the integration tests:  node ws_server.js --port P --name NAME
// (--port 0: the kernel picks the port; the line `ws backend NAME listening on PORT` says which).
// On connect it sends {"hello": NAME, "path": <request path>} (a server-initiated message),
// then echoes every message back with the same type (text stays text, binary stays binary).
// Plain HTTP requests (no Upgrade) get 200 with X-Backend: NAME.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const port = Number(arg('port'));
const name = arg('name', 'ws');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Backend': name });
  res.end(req.url === '/health' ? 'ok' : `plain http from ${name}\n`);
});
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 });
wss.on('headers', (headers) => headers.push(`X-Backend: ${name}`));
wss.on('connection', (ws, req) => {
  ws.send(JSON.stringify({ hello: name, path: req.url }));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.listen(port, '127.0.0.1',
  () => console.log(`ws backend ${name} listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
