import { test, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

// axe-core on the pages fans and staff use: no serious or critical
// violation (WCAG 2.1 A and AA rules).

const ADMIN = { email: "admin@tessera.test", password: "tessera-demo-admin" };

async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n  ")}`);
  expect(report, `${what}:\n${report.join("\n")}`).toEqual([]);
}

async function eventId(page: Page, query: string): Promise<number> {
  const response = await page.request.get(`/api/events?q=${encodeURIComponent(query)}`);
  return (await response.json()).events[0].id;
}

test("home, event maps and checkout have no serious accessibility violations", async ({ page }) => {
  // axe walks every node: the stadium's open section alone is a thousand
  // seats, and five pages take longer than the default minute on two cores.
  test.setTimeout(180_000);
  await page.goto("/");
  await page.locator(".event-card").first().waitFor({ timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  await expectAccessible(page, "home");

  await page.goto(`/events/${await eventId(page, "Aurora")}`);
  await expect(page.locator('.seat-picker[data-live="live"] g.section-area').first()).toBeVisible({ timeout: 30_000 });
  await expectAccessible(page, "stadium map (sections)");
  await page.locator('g.section-area[data-section="101"]').click();
  await expect(page.locator('g[data-section-seats="101"] .seat').first()).toBeVisible();
  await expectAccessible(page, "stadium map (seats)");

  await page.goto(`/events/${await eventId(page, "Marisol")}`);
  await expect(page.locator('.seat-picker[data-live="live"] .seat').first()).toBeVisible({ timeout: 30_000 });
  await expectAccessible(page, "club map");

  const hold = await page.request.post(`/api/events/${await eventId(page, "Marisol")}/holds`, {
    data: { best_available: { count: 1 } },
  });
  expect(hold.status()).toBe(201);
  await page.goto(`/checkout/${(await hold.json()).hold_id}`);
  await expect(page.getByTestId("countdown")).toBeVisible();
  await expectAccessible(page, "checkout");
});

test("my tickets and the staff dashboard have no serious accessibility violations", async ({ page }) => {
  const login = await page.request.post("/api/auth/login", { data: ADMIN });
  expect(login.ok()).toBeTruthy();
  await page.goto("/my/tickets");
  await page.locator('[data-hydrated="true"]').first().waitFor({ timeout: 30_000 });
  await expectAccessible(page, "my tickets");
  await page.goto(`/staff/events/${await eventId(page, "Marisol")}`);
  await expect(page.locator('.dashboard[data-live="live"]')).toBeVisible({ timeout: 30_000 });
  await expectAccessible(page, "staff dashboard");
});
