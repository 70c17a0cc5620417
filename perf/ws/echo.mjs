// WebSocket echo backend for perf/report:  node echo.mjs PORT
// Echoes every message with its type; no greeting, no compression. A plain GET answers
// 200 "ok" (the proxies' readiness check). One process, all sockets on one loop.
import http from "node:http";
import { WebSocketServer } from "./ws.mjs";

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "3" });
  res.end("ok\n");
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => {});
});
server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => console.log(`ws echo on ${port}`));
process.on("SIGTERM", () => process.exit(0));
