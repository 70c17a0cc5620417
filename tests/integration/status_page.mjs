// Drives the admin status page in headless Chromium (Debian's /usr/bin/chromium through npm
// playwright-core) for test_status_page.py:
//   node status_page.mjs URL SCREENSHOT [--drain ADDRESS] [--expect N] [--scroll-to ADDRESS]
// Loads URL, waits until the page lists N backends, optionally clicks "drain" on ADDRESS
// and/or scrolls until ADDRESS is rendered, saves a screenshot, and prints one JSON line:
// {"backends": N listed in the summary, "rows_in_dom": rows rendered, "addresses": [...],
//  "error": the page's error line, "render_ms": time to the first full render, "found":
//  scrolled-to address rendered, "after": the same after the drain and scrolling}.
import { chromium } from "playwright-core";

const [url, screenshot, ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, "")] = rest[i + 1];
const expect = Number(opt.expect || 1);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const t0 = Date.now();
  await page.goto(url);
  // Listed (N backends, rows drawn), or an error shown (a missing token, say).
  await page.waitForFunction(
    (n) => {
      const m = document.getElementById("summary").textContent.match(/(\d+) backends/);
      return (m && Number(m[1]) >= n && document.querySelectorAll("#rows .row").length > 0) ||
             document.getElementById("error").textContent !== "";
    },
    expect, { timeout: 15000 });
  const renderMs = Date.now() - t0;
  const snapshot = () => page.evaluate(() => ({
    summary: document.getElementById("summary").textContent,
    rows_in_dom: document.querySelectorAll("#rows .row").length,
    addresses: [...document.querySelectorAll("#rows .row")].map((r) => r.dataset.address),
    error: document.getElementById("error").textContent,
  }));
  const before = await snapshot();
  let found = null;
  if (opt["scroll-to"]) {
    found = false;
    for (let i = 0; i < 400 && !found; i++) {
      await page.evaluate(() => { const v = document.getElementById("viewport"); v.scrollTop += v.clientHeight; });
      await page.waitForTimeout(20);
      found = await page.evaluate((a) => !!document.querySelector(`#rows .row[data-address="${a}"]`), opt["scroll-to"]);
    }
  }
  if (opt.drain) {
    const row = page.locator(`#rows .row[data-address="${opt.drain}"]`);
    await row.locator('button[data-action="drain"]').click();
    await page.waitForFunction(
      (a) => { const r = document.querySelector(`#rows .row[data-address="${a}"] .state`);
               return !r || r.textContent.startsWith("draining"); }, opt.drain, { timeout: 10000 });
  }
  const after = await snapshot();
  await page.screenshot({ path: screenshot });
  const backends = Number((before.summary.match(/(\d+) backends/) || [0, 0])[1]);
  console.log(JSON.stringify({ ...before, backends, render_ms: renderMs, found, after }));
} finally {
  await browser.close();
}
