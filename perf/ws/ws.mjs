// npm `ws` for the perf/ws scripts, from tests/integration/node_modules (scripts/test installs
// it there), so perf/ needs no node_modules of its own.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../tests/integration/package.json", import.meta.url));
const ws = require("ws");
export const WebSocket = ws.WebSocket;
export const WebSocketServer = ws.WebSocketServer;
