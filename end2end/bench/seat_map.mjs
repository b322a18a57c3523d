// Measures the stadium seat map in headless Chromium against a running
// server, and takes the screenshots in docs/screenshots/:
//  - bytes on connect: WebSocket payload received until the map is live,
//    and HTTP bytes on the wire (encoded) for the whole page;
//  - time to interactive: navigation start → the 44 sections clickable,
//    on a first visit (empty cache) and a second (same browser profile, so
//    the bundle and the layout come from its cache), three ways (below);
//  - whether the layout came from the browser's cache on the second visit.
// The first visit stays open FIRST_VISIT_MS after it is interactive (default
// 300) before the second starts.
// Usage: [FIRST_VISIT_MS=3000] [PROFILE=same_tab|new_tab|incognito] \
//   node end2end/bench/seat_map.mjs http://127.0.0.1:3000 [runs]
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, launchOptions, loopback, stadiumEvent } from "./chromium.mjs";

const base = loopback(process.argv[2] ?? "http://127.0.0.1:3000");
const runs = Number(process.argv[3] ?? 5);
const firstVisitMs = Number(process.env.FIRST_VISIT_MS ?? 300);
const shots = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const browser = await chromium.launch(launchOptions);
const stadium = await stadiumEvent(base);
const url = `${base}/events/${stadium.id}`;

// One visit in `page`: time to interactive and what crossed the network.
async function visit(page) {
  const cdp = await page.context().newCDPSession(page);
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
  await cdp.detach();
  // Each frame carries 2–10 header bytes besides its payload.
  return { tti, wsPayloadBytes: wsBytes, wsFrames, wsWireBytesAtMost: wsBytes + 10 * wsFrames, httpBytes, layoutFromCache };
}

// A first visit from an empty cache, then a second visit in the same browser
// profile, one of three ways (PROFILE picks one; all three by default):
//  - same_tab: the fan comes back to the event page in the tab it is open
//    in (reload, or back from checkout); the profile is on disk;
//  - new_tab: the first tab closed, the page opened in a new one, so a new
//    renderer process starts; the profile is on disk;
//  - incognito: as new_tab in an off-the-record profile (Playwright's
//    browser.newContext(), which earlier figures used).
async function visitPair(mode) {
  const dir = mode === "incognito" ? null : mkdtempSync(join(tmpdir(), "seat-map-profile-"));
  const context = dir ? await chromium.launchPersistentContext(dir, launchOptions) : await browser.newContext();
  for (const blank of context.pages()) await blank.close();
  const page = await context.newPage();
  const first = await visit(page);
  await page.waitForTimeout(firstVisitMs);
  let second;
  if (mode === "same_tab") {
    second = await visit(page);
  } else {
    await page.close();
    second = await visit(await context.newPage());
  }
  await context.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  return { first, second };
}

const modes = process.env.PROFILE ? [process.env.PROFILE] : ["same_tab", "new_tab", "incognito"];
const results = {};
for (const mode of modes) {
  results[mode] = { first: [], second: [] };
  for (let i = 0; i < runs; i++) {
    const { first, second } = await visitPair(mode);
    results[mode].first.push(first);
    results[mode].second.push(second);
  }
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
const report = { first_visit_ms: firstVisitMs };
for (const [mode, r] of Object.entries(results)) report[mode] = { first_visit: summary(r.first), second_visit: summary(r.second) };
console.log(JSON.stringify(report, null, 2));
