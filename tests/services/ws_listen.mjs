// A WebSocket client for the tests (npm ws): connects, prints every message it receives as
// one line on stdout, and exits after --count messages or --seconds, whichever comes first.
//   node ws_listen.mjs URL [--token T] [--header Name:Value] [--count N] [--seconds S]
// Prints "open" when connected and "close CODE" when closed; errors go to stderr, exit 1.
import WebSocket from "ws";

const args = process.argv.slice(2);
const url = args.shift();
let count = Infinity;
let seconds = 20;
const headers = {};
while (args.length) {
  const flag = args.shift();
  const value = args.shift();
  if (flag === "--token") headers["Authorization"] = `Bearer ${value}`;
  else if (flag === "--header") {
    const i = value.indexOf(":");
    headers[value.slice(0, i)] = value.slice(i + 1);
  } else if (flag === "--count") count = Number(value);
  else if (flag === "--seconds") seconds = Number(value);
  else {
    console.error(`unknown flag ${flag}`);
    process.exit(2);
  }
}

let received = 0;
const ws = new WebSocket(url, { headers });
const timer = setTimeout(() => {
  console.log("timeout");
  ws.terminate();
  process.exit(0);
}, seconds * 1000);
ws.on("open", () => console.log("open"));
ws.on("message", (data) => {
  console.log(data.toString());
  received += 1;
  if (received >= count) {
    clearTimeout(timer);
    ws.close(1000);
  }
});
ws.on("unexpected-response", (req, res) => {
  console.error(`unexpected response ${res.statusCode}`);
  process.exit(1);
});
ws.on("close", (code) => {
  console.log(`close ${code}`);
  clearTimeout(timer);
  process.exit(0);
});
ws.on("error", (err) => {
  console.error(`error ${err.message}`);
  process.exit(1);
});
