// Reads the admin status page's table in headless Chromium (Debian's /usr/bin/chromium through
// npm playwright-core) for test_status_p99.py:
//   node status_page_cells.mjs URL N
// Loads URL, waits until N rows are drawn with a p99 shown in each, and prints one JSON line:
// {"columns": [header texts], "rows": [{"address": ..., "cells": {header: text}}]}.
import { chromium } from "playwright-core";

const [url, n] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  const read = () => page.evaluate(() => {
    const columns = [...document.querySelectorAll(".row.head > div")].map((d) => d.textContent.trim());
    const rows = [...document.querySelectorAll("#rows .row")].map((r) => {
      const cells = {};
      [...r.children].forEach((d, i) => { cells[columns[i] || String(i)] = d.textContent.trim(); });
      return { address: r.dataset.address, cells };
    });
    return { columns, rows, error: document.getElementById("error").textContent };
  });
  // The page polls every 2 s; wait for a poll that drew every row with its p99.
  await page.waitForFunction((want) => {
    const heads = [...document.querySelectorAll(".row.head > div")].map((d) => d.textContent);
    const p99 = heads.findIndex((t) => t.startsWith("p99"));
    const rows = [...document.querySelectorAll("#rows .row")];
    return (p99 >= 0 && rows.length >= want &&
            rows.every((r) => / ms$/.test(r.children[p99].textContent.trim()))) ||
           document.getElementById("error").textContent !== "";
  }, Number(n), { timeout: 20000 });
  console.log(JSON.stringify(await read()));
} finally {
  await browser.close();
}
