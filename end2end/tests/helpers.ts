import { expect, type Page, type Locator, type ConsoleMessage } from "@playwright/test";

// Helpers the specs share: opening an event's live map, picking a seat the
// way a pointer does, and catching browser console errors.

// Resolves once the wasm bundle has hydrated the page's interactive part
// (the app marks it data-hydrated="true" from an effect, which only runs in
// the browser after hydration).
export async function waitForHydration(page: Page) {
  await page.locator('[data-hydrated="true"]').first().waitFor({ timeout: 30_000 });
}

// Opens the first event matching `query` from the home page's search and
// waits for its live seat map.
export async function openEvent(page: Page, query: string, baseUrl = "") {
  await page.goto(`${baseUrl}/?q=${encodeURIComponent(query)}`);
  await page.locator(".event-card a").first().click();
  await expect(page.locator('.seat-picker[data-live="live"]')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("seat-map")).toBeVisible();
}

// Picks a seat by pointer: a seat too small to be a 24 px target is
// zoomed in on by the first click, and picked by the next.
export async function pick(page: Page, seat: Locator) {
  const map = page.getByTestId("seat-map");
  if ((await map.getAttribute("data-pickable")) !== "true") {
    await seat.click();
    await expect(map).toHaveAttribute("data-pickable", "true");
  }
  await seat.click();
}

// The id of the first seat shown as available on this page's map.
export async function firstAvailableSeat(page: Page): Promise<string> {
  const seat = page.locator('.seat-picker .seat[data-status="available"]').first();
  await expect(seat).toBeVisible();
  const id = await seat.getAttribute("data-seat");
  expect(id).toBeTruthy();
  return id!;
}

// Collects browser console errors (a panic in the wasm bundle, a failed
// hydration, a 404 asset). Statuses the page expects from the API (401 for
// a guest's `GET /api/me`, a wrong password; 409 for a taken email) are
// logged by Chromium as failed resources: pass them to leave them out.
export function collectConsoleErrors(page: Page, expectedStatuses: number[] = []): string[] {
  const errors: string[] = [];
  const expected = new RegExp(`status of (${expectedStatuses.join("|") || "none"})\\b`);
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error" && !expected.test(message.text())) errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}
