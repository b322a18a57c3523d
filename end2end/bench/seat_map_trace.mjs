// Where the stadium page's start goes on the renderer's main thread, by
// trace event rather than by CPU sample: the CPU profile's "(program)" lumps
// compiling wasm together with style, layout and paint, and this splits them.
// Records a Chromium trace from navigation until the 44 sections are
// clickable, on a first and a second visit in one profile, and sums the
// main thread's outermost events by name (ms), plus the wasm events nested
// anywhere (compiling, lazy compiling, reading compiled code from cache).
// The first visit stays open FIRST_VISIT_MS (default 300, as seat_map.mjs)
// before the second starts in a new tab: V8 caches compiled wasm only after
// a module has run for a while (its wasm_caching_timeout_ms, 2 s), so this
// decides whether the second visit could start from compiled code.
// Both visits share a browser profile on disk, as seat_map.mjs's new_tab
// (PROFILE=incognito: an off-the-record one, as its incognito).
// Usage: [FIRST_VISIT_MS=3000] [PROFILE=incognito] node end2end/bench/seat_map_trace.mjs http://127.0.0.1:3000 [top]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, launchOptions, loopback, stadiumEvent } from "./chromium.mjs";

const base = loopback(process.argv[2] ?? "http://127.0.0.1:3000");
const top = Number(process.argv[3] ?? 12);
const firstVisitMs = Number(process.env.FIRST_VISIT_MS ?? 300);
const incognito = process.env.PROFILE === "incognito";
const profile = incognito ? null : mkdtempSync(join(tmpdir(), "seat-map-profile-"));
const browser = incognito ? await chromium.launch(launchOptions) : null;
const context = browser ? await browser.newContext() : await chromium.launchPersistentContext(profile, launchOptions);
const stadium = await stadiumEvent(base);
const categories = ["devtools.timeline", "v8", "v8.wasm", "disabled-by-default-v8.wasm.detailed", "blink", "loading"];

// Outermost complete events on the renderer's main thread, summed by name,
// and every wasm event wherever it ran.
function summarise(trace, since) {
  const all = trace.traceEvents;
  const main = all.find((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain");
  const onMain = all
    .filter((e) => e.ph === "X" && e.ts >= since && main && e.pid === main.pid && e.tid === main.tid)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const outer = new Map();
  let openUntil = -1;
  for (const e of onMain) {
    if (e.ts < openUntil) continue;
    openUntil = e.ts + (e.dur ?? 0);
    outer.set(e.name, (outer.get(e.name) ?? 0) + (e.dur ?? 0) / 1000);
  }
  const wasm = new Map();
  for (const e of all) {
    if (e.ts < since || !/wasm/i.test(e.name) || (e.ph !== "X" && e.ph !== "I" && e.ph !== "i")) continue;
    const w = wasm.get(e.name) ?? { count: 0, ms: 0 };
    w.count += 1;
    w.ms += (e.dur ?? 0) / 1000;
    wasm.set(e.name, w);
  }
  const round = (m) => Object.fromEntries([...m.entries()].sort((a, b) => (b[1].ms ?? b[1]) - (a[1].ms ?? a[1])).slice(0, top)
    .map(([k, v]) => [k, typeof v === "number" ? Math.round(v) : { count: v.count, ms: Math.round(v.ms) }]));
  return { main_thread_outer_ms: round(outer), wasm_events: round(wasm) };
}

// A trace of `page` while `run` runs, through the page's own DevTools
// session (a profile on disk has no Browser object to trace with).
async function traced(page, run) {
  const cdp = await context.newCDPSession(page);
  const traceEvents = [];
  cdp.on("Tracing.dataCollected", (e) => traceEvents.push(...e.value));
  const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.start", { traceConfig: { includedCategories: categories }, transferMode: "ReportEvents" });
  await run();
  await cdp.send("Tracing.end");
  await complete;
  await cdp.detach();
  return { traceEvents };
}

for (const blank of context.pages()) await blank.close();
const report = {};
for (const visit of ["first_visit", "second_visit"]) {
  const page = await context.newPage();
  let tti;
  const trace = await traced(page, async () => {
    const start = Date.now();
    await page.goto(`${base}/events/${stadium.id}`);
    await page.locator('.seat-picker[data-live="live"] g.section-area[role="button"]').nth(43).waitFor();
    tti = Date.now() - start;
  });
  const navigation = trace.traceEvents.find((e) => e.name === "navigationStart") ?? trace.traceEvents[0];
  report[visit] = { tti_ms: tti, ...summarise(trace, navigation.ts) };
  if (visit === "first_visit") await page.waitForTimeout(firstVisitMs);
  await page.close();
}
await context.close();
await browser?.close();
if (profile) rmSync(profile, { recursive: true, force: true });
console.log(JSON.stringify({ profile: incognito ? "incognito" : "on disk", first_visit_ms: firstVisitMs, ...report }, null, 2));
