// The dashboard in headless Chromium (Debian's, driven by playwright-core):
// sign in, see deliveries, filter them, open one, replay a dead letter, pause
// and resume a destination; no console errors, no request leaves the Worker.
// With DASHBOARD_SCREENSHOT=<file> it also writes a screenshot (README).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { ADMIN_TOKEN, ROOT, SECRET, event, sign, sleep, startOrigin, startWorker } from "./harness.mjs";

const { chromium } = createRequire(`${ROOT}worker/package.json`)("playwright-core");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

test("the dashboard in a real browser", { timeout: 120_000 }, async () => {
  const crm = await startOrigin();
  const ops = await startOrigin();
  ops.answer(() => ({ status: 500 }));
  const edge = await startWorker(
    {
      WEBHOOK_SECRET: SECRET,
      ADMIN_TOKEN,
      ALLOW_INSECURE_ORIGIN: "true",
      DELIVERY_MODE: "queue",
      RETRY_MAX_RETRIES: "0",
      BREAKER_FAILURES: "1000",
      ROUTES: [{ path: "/webhooks/threetone", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "crm", url: crm.url }, { name: "ops", url: ops.url }] }],
    },
    { archive: true, listen: true },
  );
  const profile = mkdtempSync(join(tmpdir(), "threetone-dashboard-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 390, height: 1400 }, // a phone's width
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const post = (body) =>
      fetch(`${edge.url}/webhooks/threetone`, { method: "POST", body, headers: { "content-type": "application/json", "x-threetone-signature": sign(body) } });
    const bodies = [event("call_ended", { id: "dash-1" }), event("call_started", { id: "dash-2" })];
    for (const body of bodies) assert.equal((await post(body)).status, 202);
    for (let i = 0; i < 100 && crm.received.length < 2; i++) await sleep(100);
    await sleep(1000); // ops dead-letters both

    const page = await browser.newPage();
    const problems = [];
    const requests = [];
    page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("request", (request) => requests.push(request.url()));
    const response = await page.goto(`${edge.url}/dashboard`);
    assert.match(response.headers()["content-security-policy"], /^default-src 'none'; script-src 'sha256-/);

    // A wrong token is refused.
    await page.fill("#token", "x".repeat(40));
    await page.click("#login button");
    await page.waitForSelector("#login-error:not([hidden])");
    assert.match(await page.textContent("#login-error"), /refused/);
    problems.length = 0; // the browser reports the 401 itself

    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#login button");
    await page.waitForSelector('.card[data-destination="crm"]');
    assert.equal(await page.textContent("#status"), "ok");
    assert.equal(await page.isVisible("#login"), false, "the sign-in form is gone");
    await page.waitForSelector('#deliveries tbody tr:has-text("call_dash-1")');

    // Filter by destination: only crm's rows.
    await page.selectOption("#filter-destination", "crm");
    const destinations = await page.$$eval("#deliveries tbody tr", (rows) => rows.map((row) => row.cells[3].textContent));
    assert.ok(destinations.length >= 2 && destinations.every((name) => name === "crm"), destinations.join());

    // A delivery's detail, with its archived body.
    await page.click('#deliveries tbody tr:has-text("call_dash-1")');
    await page.waitForSelector("#detail:not([hidden])");
    await page.waitForFunction(() => document.querySelector("#detail-body").textContent.includes("call_dash-1"));
    assert.equal(JSON.parse(await page.textContent("#detail-body")).data.call_id, "call_dash-1");
    assert.match(await page.textContent("#detail-fields"), /dlv_[0-9a-f]{32}/);

    // A dead letter, replayed: ops receives it now.
    ops.answer(() => ({ status: 200 }));
    await page.waitForSelector("#dead-letters tbody tr");
    const before = ops.received.length;
    await page.click('#dead-letters tbody tr:has-text("call_dash-1") button');
    for (let i = 0; i < 100 && !ops.received.slice(before).some((request) => request.body.toString().includes("call_dash-1")); i++) await sleep(100);
    assert.ok(ops.received.slice(before).some((request) => request.answered === 200 && request.body.toString().includes("call_dash-1")));

    // Pause and resume a destination.
    await page.click('.card[data-destination="crm"] button[data-action="pause"]');
    await page.waitForSelector('.card[data-destination="crm"] [data-state="paused"]');
    assert.equal((await (await edge.fetch("/destinations", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).destinations[0].paused, true);
    await page.click('.card[data-destination="crm"] button[data-action="resume"]');
    await page.waitForSelector('.card[data-destination="crm"] [data-state="ok"]');

    if (process.env.DASHBOARD_SCREENSHOT) {
      await page.setViewportSize({ width: 1200, height: 900 });
      await page.click("#detail-close");
      await page.selectOption("#filter-destination", "");
      await sleep(300);
      await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    }
    assert.deepEqual(problems, []);
    const elsewhere = requests.filter((url) => !url.startsWith(`${edge.url}/`));
    assert.deepEqual(elsewhere, [], "every request goes to the Worker");
    assert.ok(new URL(edge.url).hostname === "127.0.0.1");
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    await edge.dispose();
    await crm.close();
    await ops.close();
  }
});
