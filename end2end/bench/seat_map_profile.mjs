// Where the stadium page's time goes in the browser: a CPU profile of the
// renderer from navigation until the 44 sections are clickable, on a first
// and a second visit (same profile, so the second is served from cache),
// summed by function (self time, ms). "(program)" is the browser's native
// work: compiling the wasm bundle, style, layout and paint.
// Usage: node end2end/bench/seat_map_profile.mjs http://127.0.0.1:3000 [top]
import { chromium, launchOptions, loopback, stadiumEvent } from "./chromium.mjs";

const base = loopback(process.argv[2] ?? "http://127.0.0.1:3000");
const top = Number(process.argv[3] ?? 15);
const browser = await chromium.launch(launchOptions);
const stadium = await stadiumEvent(base);
const context = await browser.newContext();
const report = {};
for (const visit of ["first_visit", "second_visit"]) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 1000 });
  await cdp.send("Profiler.start");
  const start = Date.now();
  await page.goto(`${base}/events/${stadium.id}`);
  await page.locator('.seat-picker[data-live="live"] g.section-area[role="button"]').nth(43).waitFor();
  const tti = Date.now() - start;
  const { profile } = await cdp.send("Profiler.stop");
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id).callFrame;
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}`.trim();
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const ranked = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  report[visit] = { tti_ms: tti, self_ms: Object.fromEntries(ranked.map(([k, v]) => [k, Math.round(v)])) };
  await page.close();
}
await browser.close();
console.log(JSON.stringify(report, null, 2));
