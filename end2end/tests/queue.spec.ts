import { test, expect, type Browser, type Page } from "@playwright/test";
import { randomUUID } from "node:crypto";
import { pick } from "./helpers";

// The demo admin (see server/src/demo).
const ADMIN = { email: "admin@tessera.test", password: "tessera-demo-admin" };
// An event no other spec sells.
const EVENT = "Comedy Gala";

function inSeconds(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

// Puts the event behind a waiting room whose onsale is a few seconds away:
// one shopper at a time, one admission every ten seconds.
async function queuedOnsale(browser: Browser, onsaleInSeconds: number): Promise<number> {
  const context = await browser.newContext();
  try {
    const request = context.request;
    const login = await request.post("/api/auth/login", { data: ADMIN });
    expect(login.ok(), await login.text()).toBeTruthy();
    const list = await (await request.get(`/api/events?q=${encodeURIComponent(EVENT)}`)).json();
    const event: number = list.events[0].id;
    const patch = await request.patch(`/api/staff/events/${event}`, { data: { onsale_at: inSeconds(onsaleInSeconds) } });
    expect(patch.status(), await patch.text()).toBe(204);
    const put = await request.put(`/api/staff/events/${event}/queue`, {
      data: { enabled: true, opens_at: inSeconds(-60), admit_per_minute: 6, max_active: 1, admission_minutes: 5 },
    });
    expect(put.status(), await put.text()).toBe(200);
    return event;
  } finally {
    await context.close();
  }
}

// Buys the first available seat on the map this page shows.
async function buyFirstSeat(page: Page) {
  await expect(page.locator('.seat-picker[data-live="live"]')).toBeVisible({ timeout: 30_000 });
  await pick(page, page.locator('circle.seat[data-status="available"]').first());
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await page.getByTestId("email").fill(`queued-${randomUUID()}@example.com`);
  await page.getByTestId("card").selectOption("tok_visa");
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmation")).toContainText("You're going");
}

test("two fans queue before the onsale, are drawn, wait their turn and each buy; a fan without admission cannot hold", async ({ browser }) => {
  test.setTimeout(150_000);
  const event = await queuedOnsale(browser, 12);
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  const outsider = await browser.newContext();
  try {
    // Both join the pre-queue and see the countdown to the onsale.
    for (const fan of [a, b]) {
      await fan.goto(`/events/${event}/queue`);
      await expect(fan.getByTestId("queue-countdown")).toBeVisible({ timeout: 15_000 });
    }
    // A refresh keeps the place.
    const placeOfA = await a.locator(".queue-place").getAttribute("data-queue-id");
    await a.reload();
    await expect(a.locator(".queue-place")).toHaveAttribute("data-queue-id", placeOfA!);

    // After the draw both have positions, 1 and 2.
    for (const fan of [a, b]) {
      await expect(fan.getByTestId("queue-position")).toBeVisible({ timeout: 30_000 });
    }
    const positionOfA = Number(await a.getByTestId("queue-position").textContent());
    const positionOfB = Number(await b.getByTestId("queue-position").textContent());
    expect([positionOfA, positionOfB].sort()).toEqual([1, 2]);
    const [first, second] = positionOfA === 1 ? [a, b] : [b, a];

    // The event page sends fans without an admission to the queue, and a hold
    // without one is refused.
    const stranger = await outsider.newPage();
    await stranger.goto(`/events/${event}`);
    await expect(stranger.getByTestId("join-queue")).toBeVisible({ timeout: 15_000 });
    const map = await (await stranger.request.get(`/api/events/${event}/seats`)).json();
    const refused = await stranger.request.post(`/api/events/${event}/holds`, { data: { seat_ids: [map.seats[0].id] } });
    expect(refused.status()).toBe(403);
    expect((await refused.json()).error.code).toBe("queue_required");

    // First in line: their turn, then the map, then a ticket.
    await expect(first.getByTestId("queue-your-turn")).toBeVisible({ timeout: 30_000 });
    await expect(first).toHaveURL(new RegExp(`/events/${event}$`), { timeout: 15_000 });
    // Meanwhile the second fan's position moved to the front.
    await expect(second.getByTestId("queue-position")).toHaveText("1", { timeout: 15_000 });
    await buyFirstSeat(first);

    // The purchase frees the one slot: the second fan's turn.
    await expect(second.getByTestId("queue-your-turn")).toBeVisible({ timeout: 30_000 });
    await expect(second).toHaveURL(new RegExp(`/events/${event}$`), { timeout: 15_000 });
    await buyFirstSeat(second);
  } finally {
    await a.context().close();
    await b.context().close();
    await outsider.close();
  }
});
