import { test, expect, type APIRequestContext, type Browser, type Page } from "@playwright/test";
import { randomUUID } from "node:crypto";

// The demo admin (see server/src/demo); staff pages need a staff or admin role.
const ADMIN = { email: "admin@tessera.test", password: "tessera-demo-admin" };

// Signs a new browser context in as the demo admin. `page.request` shares
// the context's cookies, so the pages see the session.
async function staffPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const response = await page.request.post("/api/auth/login", { data: ADMIN });
  expect(response.ok(), await response.text()).toBeTruthy();
  return page;
}

// A new browser context signed in as a freshly registered fan.
async function fanPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const response = await page.request.post("/api/auth/register", {
    data: { email: `fan-${randomUUID()}@example.com`, password: "fan-password-1", display_name: "A Fan" },
  });
  expect(response.status(), await response.text()).toBe(201);
  return page;
}

async function eventId(request: APIRequestContext, query: string): Promise<number> {
  const response = await request.get(`/api/events?q=${encodeURIComponent(query)}`);
  expect(response.ok()).toBeTruthy();
  const list = await response.json();
  expect(list.events.length).toBeGreaterThan(0);
  return list.events[0].id;
}

// Holds the best available seat and buys it as a guest; returns the purchase.
async function buyOneSeat(request: APIRequestContext, event: number) {
  const hold = await request.post(`/api/events/${event}/holds`, { data: { best_available: { count: 1 } } });
  expect(hold.status(), await hold.text()).toBe(201);
  const { hold_id } = await hold.json();
  const purchase = await request.post(`/api/holds/${hold_id}/purchase`, {
    headers: { "Idempotency-Key": randomUUID() },
    data: { email: "gate-fan@example.com", payment: { token: "tok_visa" } },
  });
  expect(purchase.ok(), await purchase.text()).toBeTruthy();
  return purchase.json();
}

async function figure(page: Page, name: string): Promise<number> {
  const text = (await page.getByTestId(`stat-${name}`).textContent()) ?? "";
  return Number(text.replace(/[$,]/g, ""));
}

test("the staff dashboard shows a fan's purchase live, without a reload", async ({ browser }) => {
  const staff = await staffPage(browser);
  const fan = await browser.newContext();
  try {
    const event = await eventId(staff.request, "Basement Tapes");
    await staff.goto(`/staff/events/${event}`);
    await expect(staff.locator('.dashboard[data-live="live"]')).toBeVisible({ timeout: 30_000 });
    await expect(staff.getByTestId("stat-sold")).not.toHaveText("—");
    await expect(staff.locator("svg.heat-map circle.seat").first()).toBeVisible();
    await expect(staff.getByTestId("sales-chart").locator("rect.bar")).toHaveCount(60);
    const sold = await figure(staff, "sold");
    const revenue = await figure(staff, "revenue");
    const chartTotal = Number(await staff.getByTestId("sales-chart").getAttribute("data-total"));

    await buyOneSeat(fan.request, event);

    await expect(staff.getByTestId("stat-sold")).toHaveText(String(sold + 1), { timeout: 5_000 });
    await expect.poll(() => figure(staff, "revenue"), { timeout: 5_000 }).toBeGreaterThan(revenue);
    await expect
      .poll(async () => Number(await staff.getByTestId("sales-chart").getAttribute("data-total")))
      .toBe(chartTotal + 1);
  } finally {
    await fan.close();
    await staff.context().close();
  }
});

test("staff block and unblock a seat from the dashboard", async ({ browser }) => {
  const staff = await staffPage(browser);
  try {
    const event = await eventId(staff.request, "Northern Soul");
    await staff.goto(`/staff/events/${event}`);
    await expect(staff.locator('.dashboard[data-live="live"]')).toBeVisible({ timeout: 30_000 });
    const seat = staff.locator('svg.heat-map circle.seat[data-status="available"]').first();
    const seatId = await seat.getAttribute("data-seat");
    const blocked = await figure(staff, "blocked");

    // Clicking a seat picks it for the tool.
    await seat.click();
    await expect(staff.getByTestId("block-seat-ids")).toHaveValue(seatId!);
    await staff.getByTestId("block").click();
    await expect(staff.getByTestId("block-notice")).toContainText("Blocked 1 seat");
    await expect(staff.getByTestId("stat-blocked")).toHaveText(String(blocked + 1));
    await expect(staff.locator(`circle.seat[data-seat="${seatId}"]`)).toHaveAttribute("data-status", "blocked");
    const seats = await (await staff.request.get(`/api/events/${event}/seats`)).json();
    expect(seats.seats.find((s: { id: number }) => s.id === Number(seatId)).status).toBe("blocked");

    await staff.getByTestId("block-seat-ids").fill(seatId!);
    await staff.getByTestId("unblock").click();
    await expect(staff.getByTestId("stat-blocked")).toHaveText(String(blocked));

    // A sold seat cannot be blocked; the tool says so and changes nothing.
    const fan = await browser.newContext();
    const purchase = await buyOneSeat(fan.request, event);
    await fan.close();
    await staff.getByTestId("block-seat-ids").fill(`${seatId}, ${purchase.tickets[0].seat_id}`);
    await staff.getByTestId("block").click();
    await expect(staff.getByTestId("block-notice")).toContainText("held or sold");
    await expect(staff.getByTestId("block-notice")).toContainText(String(purchase.tickets[0].seat_id));
    await expect(staff.getByTestId("stat-blocked")).toHaveText(String(blocked));
  } finally {
    await staff.context().close();
  }
});

test("the gate admits a ticket once, then says it was used, and refuses a forgery", async ({ browser }) => {
  const staff = await staffPage(browser);
  const fan = await browser.newContext();
  try {
    const event = await eventId(staff.request, "Blue Hour");
    const purchase = await buyOneSeat(fan.request, event);
    const code: string = purchase.tickets[0].code;

    await staff.goto("/staff/scan");
    const input = staff.getByTestId("scan-code");
    await expect(input).toBeVisible({ timeout: 30_000 });
    await expect(input).toBeFocused();

    await input.fill(code);
    await input.press("Enter");
    const result = staff.getByTestId("scan-result");
    await expect(result).toHaveAttribute("data-result", "valid");
    await expect(result).toContainText("ADMIT");
    await expect(input).toHaveValue("");
    await expect(input).toBeFocused();

    // A scanner types straight into the focused field.
    await staff.keyboard.type(code);
    await staff.keyboard.press("Enter");
    await expect(result).toHaveAttribute("data-result", "already-used");
    await expect(result).toContainText("ALREADY USED");
    await expect(result).toContainText("First scanned");

    await staff.keyboard.type(`${code.slice(0, -4)}AAAA`);
    await staff.keyboard.press("Enter");
    await expect(result).toHaveAttribute("data-result", "invalid");
    await expect(result).toContainText("INVALID");
    await expect(staff.getByTestId("scan-history").locator("li")).toHaveCount(2);
  } finally {
    await fan.close();
    await staff.context().close();
  }
});

test("a fan opening a staff dashboard is told it is for staff and sees no figures", async ({ browser }) => {
  const fan = await fanPage(browser);
  try {
    const event = await eventId(fan.request, "Wild Geese");
    await fan.goto(`/staff/events/${event}`);
    await expect(fan.getByTestId("staff-denied")).toContainText("staff only", { ignoreCase: true });
    await expect(fan.getByTestId("stat-sold")).toHaveCount(0);
    expect((await fan.request.get(`/api/staff/events/${event}/stats`)).status()).toBe(403);

    // Signed out, the staff home says to sign in.
    const anonymous = await browser.newContext();
    const page = await anonymous.newPage();
    await page.goto("/staff");
    await expect(page.getByTestId("staff-denied")).toContainText("Sign in");
    await anonymous.close();
  } finally {
    await fan.context().close();
  }
});

test("staff sign in on the staff home, then create a venue and an event", async ({ browser }) => {
  const context = await browser.newContext();
  const staff = await context.newPage();
  try {
    await staff.goto("/staff");
    await staff.getByTestId("sign-in-email").fill(ADMIN.email);
    await staff.getByTestId("sign-in-password").fill("not-the-password");
    await staff.getByTestId("sign-in").click();
    await expect(staff.getByTestId("sign-in-error")).toContainText("do not match");
    await staff.getByTestId("sign-in-password").fill(ADMIN.password);
    await staff.getByTestId("sign-in").click();
    await expect(staff.getByTestId("staff-events").locator("li").first()).toBeVisible({ timeout: 30_000 });
    await staff.getByRole("link", { name: "New venue" }).click();
    await expect(staff).toHaveURL(/\/staff\/venues\/new/);
    const venueName = `Test Hall ${randomUUID().slice(0, 8)}`;
    await staff.getByTestId("venue-name").fill(venueName);
    await staff.getByTestId("venue-city").fill("Leeds");
    await staff.getByTestId("venue-sections").fill("Stalls, 4, 10, curved\nCircle, 2, 12");
    await staff.getByTestId("create-venue").click();
    await expect(staff.getByTestId("venue-created")).toContainText("64 seats in 2 sections");

    await staff.getByRole("link", { name: "Create an event at this venue" }).click();
    await expect(staff).toHaveURL(/\/staff\/events\/new\?venue=\d+/);
    await expect(staff.getByTestId("event-sections")).toHaveValue("Stalls: Standard\nCircle: Standard");
    await staff.getByTestId("event-name").fill(`${venueName} Opening Night`);
    await staff.getByTestId("event-starts").fill("2031-06-01T19:30");
    await staff.getByTestId("event-tiers").fill("Standard: 20.00\nCheap: 9.50");
    await staff.getByTestId("event-sections").fill("Stalls: Standard\nCircle: Cheap");
    await staff.getByTestId("create-event").click();
    await expect(staff.getByTestId("event-created")).toContainText("with 64 seats");

    await staff.getByRole("link", { name: "Open its sales dashboard" }).click();
    await expect(staff.locator('.dashboard[data-live="live"]')).toBeVisible({ timeout: 30_000 });
    await expect(staff.getByTestId("stat-available")).toHaveText("64");
    await expect(staff.getByTestId("dashboard-title")).toHaveText(`${venueName} Opening Night`);

    // Edit it: a new name and a shorter hold; the public API follows.
    await staff.getByTestId("edit-event").click();
    await expect(staff).toHaveURL(/\/staff\/events\/\d+\/edit/);
    await expect(staff.getByTestId("edit-name")).toHaveValue(`${venueName} Opening Night`);
    await staff.getByTestId("edit-name").fill(`${venueName} Gala`);
    await staff.getByTestId("edit-hold").fill("120");
    await staff.getByTestId("edit-save").click();
    await expect(staff.getByTestId("edit-notice")).toHaveText("Saved.");
    const id = staff.url().match(/\/staff\/events\/(\d+)\/edit/)?.[1];
    const detail = await (await staff.request.get(`/api/events/${id}`)).json();
    expect([detail.name, detail.hold_seconds]).toEqual([`${venueName} Gala`, 120]);
  } finally {
    await context.close();
  }
});

test("an admin creates a staff account that can then sign in as staff", async ({ browser }) => {
  const admin = await staffPage(browser);
  try {
    const email = `usher-${randomUUID().slice(0, 8)}@example.com`;
    await admin.goto("/staff/accounts");
    await admin.getByTestId("new-staff-email").fill(email);
    await admin.getByTestId("new-staff-name").fill("Usher");
    await admin.getByTestId("new-staff-password").fill("usher-password-1");
    await admin.getByTestId("create-staff").click();
    await expect(admin.getByTestId("staff-account-notice")).toContainText(`Account created for ${email}`);
    const usher = await browser.newContext();
    const login = await usher.request.post("/api/auth/login", { data: { email, password: "usher-password-1" } });
    expect(login.ok(), await login.text()).toBeTruthy();
    expect((await login.json()).role).toBe("staff");

    // The admin finds the account and disables it: it is signed out and
    // cannot sign in again until enabled.
    await admin.getByTestId("find-user-email").fill(email);
    await admin.getByTestId("find-user").click();
    await expect(admin.getByTestId("found-user-status")).toHaveText("Active");
    await expect(admin.getByTestId("found-user-role")).toHaveValue("staff");
    await admin.getByTestId("toggle-user-disabled").click();
    await expect(admin.getByTestId("found-user-status")).toHaveText("Disabled");
    expect((await usher.request.get("/api/me")).status()).toBe(401);
    const refused = await usher.request.post("/api/auth/login", { data: { email, password: "usher-password-1" } });
    expect(refused.ok()).toBeFalsy();
    await admin.getByTestId("toggle-user-disabled").click();
    await expect(admin.getByTestId("found-user-status")).toHaveText("Active");
    const again = await usher.request.post("/api/auth/login", { data: { email, password: "usher-password-1" } });
    expect(again.ok(), await again.text()).toBeTruthy();
    await usher.close();
  } finally {
    await admin.context().close();
  }
});
