// Drives the storefront (web/) in headless Chromium (Debian's /usr/bin/chromium through npm
// playwright-core, installed for the balancer's integration tests) for test_storefront.py:
//   node storefront.mjs URL SCREENSHOT EMAIL PASSWORD COURIER_TOKEN
// Loads URL, waits for the product list, signs in, waits for the live connection, orders
// the first product, then as the courier (the API, not the page) moves the order to paid
// and shipped, and waits for the page to show each status, pushed over the WebSocket (the
// page never polls). Prints one JSON line: {"products", "order", "seen": [statuses in the
// order shown], "live", "message", "error"}.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../integration/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [url, screenshot, email, password, courierToken] = process.argv.slice(2);
const out = { products: 0, order: null, seen: [], live: "", message: "", error: "" };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  page.on("pageerror", (e) => { out.error += `${e.message}\n`; });
  await page.goto(url);
  await page.waitForSelector("#products tbody tr", { timeout: 15000 });
  out.products = await page.locator("#products tbody tr").count();

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForFunction(() => document.getElementById("live").textContent ===
                             "Live updates: on", null, { timeout: 15000 });

  await page.locator("#products tbody tr").first().getByRole("button").click();
  const row = page.locator("#orders tbody tr").first();
  await row.waitFor({ timeout: 10000 });
  out.order = Number((await row.getAttribute("data-order")));
  const statusOf = () => row.locator(".status").getAttribute("data-status");
  out.seen.push(await statusOf());

  const origin = new URL(url).origin;
  for (const status of ["paid", "shipped"]) {
    const r = await fetch(`${origin}/api/orders/${out.order}/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${courierToken}` },
      body: JSON.stringify({ status }),
    });
    if (r.status !== 200) throw new Error(`courier ${status}: ${r.status} ${await r.text()}`);
    await page.waitForFunction(
      ([id, s]) => document.querySelector(`#orders tr[data-order="${id}"] .status`)
        ?.dataset.status === s, [out.order, status], { timeout: 10000 });
    out.seen.push(await statusOf());
  }
  out.live = await page.locator("#live").textContent();
  out.message = await page.locator("#message").textContent();
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  out.error += String(e && e.stack || e);
} finally {
  await browser.close();
  console.log(JSON.stringify(out));
}
