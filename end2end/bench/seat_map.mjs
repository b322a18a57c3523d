// Measures the stadium seat map in headless Chromium against a running
// server, and takes the screenshots in docs/screenshots/:
//  - bytes on connect: WebSocket payload received until the map is live,
//    and HTTP bytes on the wire (encoded) for the whole page;
//  - time to interactive: navigation start → the 44 sections clickable,
//    on a first visit (empty cache) and a second (same browser profile);
//  - whether the layout came from the browser's cache on the second visit.
// Usage: node end2end/bench/seat_map.mjs http://127.0.0.1:3000 [runs]
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const require = createRequire(import.meta.url);
const { chromium } = require("../node_modules/playwright-core");

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const runs = Number(process.argv[3] ?? 5);
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(base)) throw new Error("loopback only");
const shots = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
const events = (await (await fetch(`${base}/api/events?limit=100`)).json()).events;
const stadium = events.find((e) => e.venue === "Northgate Stadium");
const url = `${base}/events/${stadium.id}`;

// One visit: time to interactive and what crossed the network.
async function visit(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  let wsBytes = 0, wsFrames = 0, httpBytes = 0, layoutFromCache = null;
  cdp.on("Network.webSocketFrameReceived", (e) => { wsFrames += 1; wsBytes += e.response.payloadData.length; });
  cdp.on("Network.loadingFinished", (e) => { httpBytes += e.encodedDataLength; });
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.url.includes("/api/layouts/")) layoutFromCache = Boolean(e.response.fromDiskCache || e.response.fromMemoryCache);
  });
  cdp.on("Network.requestServedFromCache", () => { layoutFromCache = layoutFromCache ?? true; });
  const start = Date.now();
  await page.goto(url);
  await page.locator('.seat-picker[data-live="live"] g.section-area[role="button"]').nth(43).waitFor();
  const tti = Date.now() - start;
  await page.waitForTimeout(300);
  await page.close();
  // Each frame carries 2–10 header bytes besides its payload.
  return { tti, wsPayloadBytes: wsBytes, wsFrames, wsWireBytesAtMost: wsBytes + 10 * wsFrames, httpBytes, layoutFromCache };
}

const first = [], second = [];
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  first.push(await visit(context));
  second.push(await visit(context));
  await context.close();
}

mkdirSync(shots, { recursive: true });
const desktop = await browser.newContext({ viewport: { width: 1366, height: 850 } });
const page = await desktop.newPage();
await page.goto(url);
await page.locator('.seat-picker[data-live="live"] g.section-area').nth(43).waitFor();
await page.screenshot({ path: join(shots, "stadium-desktop-1366x850.png") });
await desktop.close();
const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
const mobile = await phone.newPage();
await mobile.goto(url);
await mobile.locator('.seat-picker[data-live="live"] g.section-area').nth(43).waitFor();
await mobile.screenshot({ path: join(shots, "stadium-phone-390x844.png") });
await mobile.locator('g.section-area[data-section="112"]').tap();
await mobile.locator('g[data-section-seats="112"] .seat').first().waitFor();
await mobile.getByTestId("zoom-in").tap();
await mobile.getByTestId("zoom-in").tap();
await mobile.screenshot({ path: join(shots, "stadium-phone-390x844-seats.png") });
await phone.close();
await browser.close();

const summary = (xs) => ({
  tti_ms: { runs: xs.map((x) => x.tti), median: median(xs.map((x) => x.tti)) },
  ws_payload_bytes: median(xs.map((x) => x.wsPayloadBytes)),
  ws_wire_bytes_at_most: median(xs.map((x) => x.wsWireBytesAtMost)),
  http_bytes: median(xs.map((x) => x.httpBytes)),
  layout_from_cache: xs.map((x) => x.layoutFromCache),
});
console.log(JSON.stringify({ first_visit: summary(first), second_visit: summary(second) }, null, 2));
