// The headless Chromium every browser benchmark here launches, and the
// stadium event they measure.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
export const { chromium } = require("../node_modules/playwright-core");

export const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    // Chromium 156 loads its omnibox popup (a page of the browser's own UI,
    // about 200 scripts) in every new headless window, in the first half
    // second: the same moment a benchmark times the page. A fan's browser
    // has it loaded long before; a trace (seat_map_trace.mjs) showed it
    // competing with the page for the two cores.
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup",
  ],
};

/** Benchmarks run against this machine only. */
export function loopback(base) {
  if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(base)) throw new Error("loopback only");
  return base;
}

/** The demo's stadium event. */
export async function stadiumEvent(base) {
  const events = (await (await fetch(`${base}/api/events?limit=100`)).json()).events;
  return events.find((e) => e.venue === "Northgate Stadium");
}
