// Measures, in headless Chromium against a running server:
//  - stadium seat map time-to-interactive: navigation start → live map with
//    its 44 sections clickable;
//  - hold-to-other-map latency: a hold's HTTP response → the held seat
//    re-coloured on another fan's open map (MutationObserver timestamp).
// Usage: node end2end/bench/live_latency.mjs http://127.0.0.1:3000 [trials]
import { chromium, launchOptions, loopback, stadiumEvent } from "./chromium.mjs";

const base = loopback(process.argv[2] ?? "http://127.0.0.1:3000");
const trials = Number(process.argv[3] ?? 20);

const percentile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.round((s.length - 1) * q))]; };
const browser = await chromium.launch(launchOptions);
const events = (await (await fetch(`${base}/api/events?limit=100`)).json()).events;
const stadium = await stadiumEvent(base);
const club = events.find((e) => e.venue === "The Lantern Club");

const tti = [];
for (let i = 0; i < 5; i++) {
  const page = await (await browser.newContext()).newPage();
  const start = Date.now();
  await page.goto(`${base}/events/${stadium.id}`);
  await page.locator('.seat-picker[data-live="live"] g.section-area').nth(43).waitFor();
  tti.push(Date.now() - start);
  await page.context().close();
}

async function latency(event, zoomSection) {
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto(`${base}/events/${event.id}`);
  await watcher.locator('.seat-picker[data-live="live"]').waitFor();
  if (zoomSection) await watcher.locator(`g.section-area[data-section="${zoomSection}"]`).click();
  const samples = [];
  for (let i = 0; i < trials; i++) {
    const seat = await watcher.locator('.seat-picker .seat[data-status="available"]:not(.feat-companion)').nth(i * 3).getAttribute("data-seat");
    await watcher.evaluate((id) => {
      const el = document.querySelector(`.seat-picker .seat[data-seat="${id}"]`);
      window.__seenAt = null;
      new MutationObserver((_, obs) => {
        if (el.getAttribute("data-status") === "held") { window.__seenAt = Date.now(); obs.disconnect(); }
      }).observe(el, { attributes: true });
    }, seat);
    const response = await fetch(`${base}/api/events/${event.id}/holds`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seat_ids: [Number(seat)] }),
    });
    const answered = Date.now();
    if (response.status !== 201) throw new Error(`hold failed: ${response.status}`);
    await watcher.waitForFunction(() => window.__seenAt !== null, null, { timeout: 5000 });
    samples.push((await watcher.evaluate(() => window.__seenAt)) - answered);
  }
  await watcher.context().close();
  return samples;
}

const clubLatency = await latency(club, null);
const stadiumLatency = await latency(stadium, "112");
await browser.close();
const report = {
  stadium_time_to_interactive_ms: { runs: tti, median: percentile(tti, 0.5) },
  hold_to_other_map_ms: {
    club: { trials, p50: percentile(clubLatency, 0.5), p95: percentile(clubLatency, 0.95), max: Math.max(...clubLatency) },
    stadium_section: { trials, p50: percentile(stadiumLatency, 0.5), p95: percentile(stadiumLatency, 0.95), max: Math.max(...stadiumLatency) },
  },
};
console.log(JSON.stringify(report, null, 2));
