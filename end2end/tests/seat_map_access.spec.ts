import { test, expect, type Page } from "@playwright/test";
import { openEvent, pick } from "./helpers";

// Every way of picking a seat ends in a purchase: the keyboard alone, the
// step-through list, and a phone's touch screen; accessible seating rules;
// the hold warning and its one extension.

// Presses Tab until the focused element matches `selector` (keyboard only).
async function tabTo(page: Page, selector: string, limit = 80) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

const focused = (page: Page) => page.locator(":focus");

async function payAsGuest(page: Page, email: string) {
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await page.getByTestId("email").fill(email);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmation")).toContainText("You're going");
}

test("a fan buys a seat with the keyboard alone", async ({ page }) => {
  await openEvent(page, "Marisol");
  // The whole map is one tab stop: one Tab into it, the next one out.
  await tabTo(page, ".seat-map .seat");
  await expect(focused(page)).toHaveAttribute("role", "gridcell");
  await expect(page.locator('.seat-map [tabindex="0"]')).toHaveCount(1);
  // Arrow keys move between seats; the name says where, what and whether free.
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowDown");
  let label = (await focused(page).getAttribute("aria-label")) ?? "";
  for (let i = 0; i < 20 && !label.endsWith("available"); i++) {
    await page.keyboard.press("ArrowRight");
    label = (await focused(page).getAttribute("aria-label")) ?? "";
  }
  expect(label).toMatch(/^Section .+, row .+, seat \d+, \$\d+\.\d\d.*, available$/);
  await page.keyboard.press("Enter");
  await expect(focused(page)).toHaveAttribute("aria-selected", "true");
  await expect(focused(page)).toHaveAttribute("aria-label", /, selected$/);
  await expect(page.getByTestId("announce")).toContainText("Added");
  await expect(page.getByTestId("selection")).toContainText("1 seat selected");

  await tabTo(page, '[data-testid="hold-selected"]');
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await tabTo(page, '[data-testid="email"]');
  await page.keyboard.type("keys@example.com");
  await tabTo(page, '[data-testid="pay"]');
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("confirmation")).toContainText("You're going");
});

test("a fan buys a seat through the step-through list, which follows live changes", async ({ page, browser }) => {
  await openEvent(page, "Copper Lines");
  const steps = page.getByTestId("seat-steps");
  await steps.getByTestId("step-section").selectOption({ index: 1 });
  await steps.getByTestId("step-row").selectOption({ index: 1 });
  const seatSelect = steps.getByTestId("step-seat");
  const options = seatSelect.locator("option");
  const before = await options.count();
  expect(before).toBeGreaterThan(2);
  // Another fan holds the first seat listed: it leaves the list.
  const firstValue = await options.nth(1).getAttribute("value");
  const seatId = await page.locator(`.seat-map [data-index="${firstValue}"]`).getAttribute("data-seat");
  const other = await browser.newContext();
  const hold = await other.request.post(`${new URL(page.url()).origin}/api/events/${page.url().split("/").pop()}/holds`, {
    data: { seat_ids: [Number(seatId)] },
  });
  expect(hold.status()).toBe(201);
  await expect(options).toHaveCount(before - 1, { timeout: 2_000 });
  await other.close();

  await seatSelect.selectOption({ index: 1 });
  await steps.getByTestId("step-add").click();
  await expect(page.getByTestId("selection")).toContainText("1 seat selected");
  await page.getByTestId("hold-selected").click();
  await payAsGuest(page, "list@example.com");
});

test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test("a fan taps, pinches and buys a stadium seat", async ({ page }) => {
    await openEvent(page, "Aurora");
    // Map first, above the fold, and no sideways scrolling.
    const map = page.getByTestId("seat-map");
    const box = (await map.boundingBox())!;
    expect(box.y).toBeLessThan(844 / 2);
    expect(box.width).toBeGreaterThan(340);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    await page.locator('g.section-area[data-section="112"]').tap();
    await expect(page.locator('g[data-section-seats="112"] .seat').first()).toBeVisible();
    // Pinch out with two fingers until seats are big enough to pick.
    const cdp = await page.context().newCDPSession(page);
    const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    for (let pinch = 0; pinch < 4 && (await map.getAttribute("data-pickable")) !== "true"; pinch++) {
      await cdp.send("Input.dispatchTouchEvent", {
        type: "touchStart",
        touchPoints: [{ x: centre.x - 20, y: centre.y, id: 1 }, { x: centre.x + 20, y: centre.y, id: 2 }],
      });
      for (let step = 1; step <= 8; step++) {
        await cdp.send("Input.dispatchTouchEvent", {
          type: "touchMove",
          touchPoints: [{ x: centre.x - 20 - step * 10, y: centre.y, id: 1 }, { x: centre.x + 20 + step * 10, y: centre.y, id: 2 }],
        });
      }
      await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    }
    await expect(map).toHaveAttribute("data-pickable", "true");
    // A seat is at least a 24 px target now.
    // An available seat a finger can reach on the zoomed map: on screen,
    // and not under the zoom buttons that float over the map.
    const seatId = await page.evaluate(() => {
      const reachable = (s: Element) => {
        const r = s.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return r.width > 0 && (hit === s || s.contains(hit));
      };
      const seat = [...document.querySelectorAll(".seat-map .seat.available")].find(reachable);
      return seat?.getAttribute("data-seat") ?? null;
    });
    expect(seatId, "an available seat in view after zooming").toBeTruthy();
    const seat = page.locator(`.seat-map .seat[data-seat="${seatId}"]`);
    const seatBox = (await seat.boundingBox())!;
    expect(Math.min(seatBox.width, seatBox.height)).toBeGreaterThanOrEqual(23.5);
    await seat.tap();
    await expect(seat).toHaveAttribute("aria-selected", "true");
    await expect(page.getByTestId("seat-tip")).toContainText("Section");
    // The selection and the hold button stay in reach.
    await expect(page.getByTestId("hold-selected")).toBeInViewport();
    await page.getByTestId("hold-selected").tap();
    await expect(page).toHaveURL(/\/checkout\/\d+/);
    await page.getByTestId("email").fill("phone@example.com");
    await page.getByTestId("pay").tap();
    await expect(page.getByTestId("confirmation")).toContainText("You're going");
  });
});

test("a wheelchair space is bought with its companion seat; a companion seat alone is refused", async ({ page }) => {
  await openEvent(page, "Kestrel Blue");
  // Alone: refused with a clear message, nothing held.
  const companion = page.locator('.seat-map .seat.feat-companion[data-status="available"]').first();
  await pick(page, companion);
  await page.getByTestId("hold-selected").click();
  await expect(page.getByTestId("notice")).toContainText("only together with a wheelchair space");
  await expect(page).toHaveURL(/\/events\/\d+/);

  // With the wheelchair space beside it: sold together.
  const index = Number(await companion.getAttribute("data-index"));
  const beside = page.locator(`.seat-map .seat.feat-wheelchair[data-index="${index - 1}"], .seat-map .seat.feat-wheelchair[data-index="${index + 1}"]`);
  await expect(beside).toHaveAttribute("data-status", "available");
  await expect(beside).toHaveAttribute("aria-label", /wheelchair space, available$/);
  await pick(page, beside);
  await expect(page.getByTestId("selection")).toContainText("2 seats selected");
  await page.getByTestId("hold-selected").click();
  await expect(page.getByTestId("held-seats").locator("li")).toHaveCount(2);
  await payAsGuest(page, "access@example.com");
});

test("the accessible seating filter shows the wheelchair spaces", async ({ page }) => {
  await openEvent(page, "Marisol");
  await page.getByTestId("need").selectOption("wheelchair");
  const shown = page.locator(".seat-map .seat:not(.filtered)");
  const count = await shown.count();
  expect(count).toBeGreaterThan(0);
  expect(await page.locator(".seat-map .seat.feat-wheelchair:not(.filtered)").count()).toBe(count);
  // The list offers only them too.
  await page.getByTestId("step-section").selectOption({ index: 1 });
  await page.getByTestId("step-row").selectOption({ index: 1 });
  const seats = page.getByTestId("step-seat").locator("option");
  expect(await seats.count()).toBeGreaterThan(1);
  for (const text of (await seats.allTextContents()).slice(1)) expect(text).toContain("wheelchair space");
});

test("the hold countdown survives a refresh and warns in its last minute", async ({ page }) => {
  // Demo holds last 6 seconds on this server (scripts/e2e.sh).
  const shortHold = process.env.TESSERA_SHORT_HOLD_URL!;
  await openEvent(page, "Basement Tapes", shortHold);
  await pick(page, page.locator('.seat-map .seat[data-status="available"]:not(.feat-companion)').first());
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await expect(page.getByTestId("hold-warning")).toBeVisible();
  await page.waitForTimeout(2_500);
  await page.reload();
  // Not back to the full six seconds: the server's clock counts.
  await expect(page.getByTestId("countdown")).toContainText(/0:0[0-4]/);
});

// Needs `POST /api/holds/{id}/extend` on the server.
test("a hold is extended once, and only once", async ({ page }) => {
  const shortHold = process.env.TESSERA_SHORT_HOLD_URL!;
  await openEvent(page, "Northern Soul", shortHold);
  await pick(page, page.locator('.seat-map .seat[data-status="available"]:not(.feat-companion)').first());
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await page.getByTestId("extend-hold").click();
  await expect(page.getByTestId("notice")).toContainText("held for longer");
  await expect(page.getByTestId("extend-hold")).toHaveCount(0);
  await page.reload();
  await page.getByTestId("extend-hold").click();
  await expect(page.getByTestId("notice")).toContainText("already extended once");
});
