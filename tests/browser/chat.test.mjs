// End-to-end test of the web page: two real nodes (A and B, already connected by run.sh), one
// headless Chromium, one page per node. Messages typed in one page must show up live in the other,
// with the delivery state (acked, then read) coming back to the sender's page.
//
// Environment (set by run.sh): A_URL, B_URL, A_PK, B_PK, SHOTS_DIR.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const { A_URL, B_URL, A_PK, B_PK } = process.env;
const SHOTS = process.env.SHOTS_DIR || tmpdir();
const WAIT = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

assert.ok(A_URL && B_URL && A_PK && B_PK, 'run through run.sh: A_URL, B_URL, A_PK, B_PK are unset');

let browser;
let profile;
let pageA;
let pageB;
const nonce = Math.random().toString(36).slice(2, 8);
const pageErrors = [];

afterEach(() => {
  const errors = pageErrors.splice(0);
  assert.deepEqual(errors, [], 'no script errors in the pages');
});

before(async () => {
  // Playwright gives the browser a fresh, empty profile directory of its own (it refuses a
  // --user-data-dir argument); the downloads and artifacts go to a fresh directory too.
  profile = mkdtempSync(join(tmpdir(), 'skychat-chromium-'));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    downloadsPath: profile,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  pageA = await open(A_URL, DESKTOP);
  pageB = await open(B_URL, DESKTOP);
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A page in its own context, failing the test on any uncaught page error. */
async function open(url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
  // HTTP error answers are logged by the browser and handled by the page; anything else is not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      pageErrors.push(`${url}: console: ${m.text()}`);
    }
  });
  await page.goto(url);
  await page.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
  return page;
}

const peerButton = (page, pk) => page.locator(`#peers button.peer[data-pk="${pk}"]`);
/** The message whose body is exactly `text`. */
const message = (page, dir, text) =>
  page.locator(`#log li.msg.${dir}`).filter({ has: page.locator('.body').getByText(text, { exact: true }) });

async function shot(page, name) {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
}

/** Sends one message through a node's HTTP API and returns the JSON answer. */
async function post(base, path, body) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('each page shows its own key and the other node as connected', async () => {
  await pageA.locator(`#me[data-pk="${A_PK}"]`).waitFor({ timeout: WAIT });
  await pageB.locator(`#me[data-pk="${B_PK}"]`).waitFor({ timeout: WAIT });
  assert.equal(await pageA.locator('#me-key').textContent(), A_PK);
  await peerButton(pageA, B_PK).and(pageA.locator('[data-state="connected"]')).waitFor({ timeout: WAIT });
  await peerButton(pageB, A_PK).and(pageB.locator('[data-state="connected"]')).waitFor({ timeout: WAIT });
});

test('a malformed key and an API error are shown, not swallowed', async () => {
  await pageA.fill('#add-key', 'not-a-key');
  await pageA.press('#add-key', 'Enter');
  await pageA.locator('#error.shown').waitFor({ timeout: WAIT });
  assert.match(await pageA.textContent('#error-text'), /64 hexadecimal/);
  await pageA.keyboard.press('Escape');
  await pageA.locator('#error.shown').waitFor({ state: 'hidden', timeout: WAIT });

  // Open the conversation with B by pasting its key, then send a body over the protocol limit:
  // the node answers 413 with a JSON error, which the page must show.
  await pageA.fill('#add-key', B_PK);
  await pageA.press('#add-key', 'Enter');
  await pageA.locator(`#peer-title[title="${B_PK}"]`).waitFor({ timeout: WAIT });
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'text');
  const huge = 'x'.repeat(70_000);
  await pageA.fill('#text', huge);
  await pageA.press('#text', 'Enter');
  await pageA.locator('#error.shown').waitFor({ timeout: WAIT });
  const shown = await pageA.textContent('#error-text');
  assert.match(shown, /70000/, shown);
  assert.match(shown, /HTTP 413/, shown);
  assert.equal((await pageA.inputValue('#text')).length, huge.length, 'the unsent text is kept');
  await pageA.click('#error-close');
  await pageA.fill('#text', '');
});

test('A types to B: B sees it live, A sees it acked, then read once B opens it', async () => {
  const text = `hello B, from A ${nonce}`;
  await pageA.fill('#text', text);
  await pageA.press('#text', 'Enter');
  await message(pageA, 'out', text).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#text'), '', 'the compose box is cleared once sent');

  // B has no conversation open: the message raises A's unread badge in B's list.
  await peerButton(pageB, A_PK).locator('.badge', { hasText: '1' }).waitFor({ timeout: WAIT });
  // B's node stored and acked it; B's page has not shown it, so it is acked but not read.
  const mine = message(pageA, 'out', text);
  await mine.and(pageA.locator('[data-status="acked"]')).waitFor({ timeout: WAIT });
  assert.equal(await mine.locator('.state').textContent(), 'acked');

  await peerButton(pageB, A_PK).click();
  await message(pageB, 'in', text).waitFor({ timeout: WAIT });
  await mine.and(pageA.locator('[data-status="read"]')).waitFor({ timeout: WAIT });
  await peerButton(pageB, A_PK).locator('.badge').waitFor({ state: 'detached', timeout: WAIT });
});

test('B replies with Shift+Enter newlines: A, with the conversation open, sees it live and reads it', async () => {
  const first = `reply line one ${nonce}`;
  const second = `line two ${nonce}`;
  await pageB.click('#text');
  await pageB.keyboard.type(first);
  await pageB.keyboard.press('Shift+Enter');
  await pageB.keyboard.type(second);
  assert.equal(await pageB.inputValue('#text'), `${first}\n${second}`, 'Shift+Enter adds a line');
  await pageB.keyboard.press('Enter');

  const seen = pageA.locator('#log li.msg.in', { hasText: first });
  await seen.waitFor({ timeout: WAIT });
  assert.equal(await seen.locator('.body').textContent(), `${first}\n${second}`);
  await pageB.locator('#log li.msg.out', { hasText: first }).and(pageB.locator('[data-status="read"]')).waitFor({ timeout: WAIT });

  await shot(pageA, 'desktop-a');
  await shot(pageB, 'desktop-b');
});

test('older history pages load when the conversation is scrolled to the top', async () => {
  // 70 messages from B to A through B's API: more than one page (50) of A's history.
  for (let i = 1; i <= 70; i++) {
    const r = await post(B_URL, '/message', { recipient: A_PK, message: `seed ${nonce} #${i}`, wait_ms: 10_000 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.acked, true);
  }
  const page = await open(A_URL, DESKTOP);
  try {
    await pagesThroughHistory(page);
  } finally {
    await page.context().close();
  }
});

async function pagesThroughHistory(page) {
  await peerButton(page, B_PK).click();
  await message(page, 'in', `seed ${nonce} #70`).waitFor({ timeout: WAIT });
  assert.equal(await message(page, 'in', `seed ${nonce} #1`).count(), 0, 'only the newest page is loaded');
  const loaded = await page.locator('#log li.msg').count();
  assert.equal(loaded, 50);

  await page.locator('#log-wrap').evaluate((w) => { w.scrollTop = 0; });
  await message(page, 'in', `seed ${nonce} #1`).waitFor({ timeout: WAIT });
  // Everything is there once, oldest first: the two earlier messages, then the 70 seeds.
  const bodies = await page.locator('#log li.msg .body').allTextContents();
  assert.equal(bodies.length, 72);
  assert.equal(bodies[0], `hello B, from A ${nonce}`);
  assert.match(bodies[1], /^reply line one/);
  const seeds = bodies.filter((b) => b.startsWith(`seed ${nonce} #`)).map((b) => Number(b.split('#')[1]));
  assert.deepEqual(seeds, Array.from({ length: 70 }, (_, i) => i + 1));
  await page.locator('#log-note', { hasText: 'Beginning of the conversation' }).waitFor({ timeout: WAIT });
}

test('keyboard: Ctrl+K and / focus the search, which filters and opens with Enter', async () => {
  await pageA.locator('#text').focus();
  await pageA.keyboard.press('Control+k');
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'search');
  await pageA.keyboard.type('zzzz-no-such-peer');
  assert.equal(await pageA.locator('#peers button.peer').count(), 0);
  await pageA.keyboard.press('Escape');
  assert.equal(await pageA.inputValue('#search'), '');
  assert.equal(await pageA.locator('#peers button.peer').count(), 1);

  await pageA.locator('#log-wrap').focus();
  await pageA.keyboard.press('/');
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'search');
  await pageA.keyboard.type(B_PK.slice(10, 20));
  await pageA.keyboard.press('Enter');
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'text');
  assert.equal(await pageA.getAttribute('#peer-title', 'title'), B_PK);
});

test('phone layout: list and conversation are separate views; Escape goes back', async () => {
  const phoneA = await open(A_URL, PHONE);
  const phoneB = await open(B_URL, PHONE);
  for (const [page, other, name] of [[phoneA, B_PK, 'a'], [phoneB, A_PK, 'b']]) {
    assert.equal(await page.locator('.sidebar').isVisible(), true);
    assert.equal(await page.locator('#chat').isVisible(), false);
    await shot(page, `phone-${name}-list`);
    await peerButton(page, other).click();
    await page.locator('#log li.msg').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.sidebar').isVisible(), false);
    assert.equal(await page.locator('#back').isVisible(), true);
    const box = await page.locator('#compose').boundingBox();
    assert.ok(box && box.y + box.height <= 844 + 1 && box.width <= 390 + 1, `compose box on screen: ${JSON.stringify(box)}`);
    await shot(page, `phone-${name}-chat`);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.sidebar').isVisible(), true);
    assert.equal(await page.locator('#chat').isVisible(), false);
  }

  // A message arriving while A's only page (the phone) shows the list stays unread (acked, not
  // read) until the phone opens the conversation; B's desktop page sees both states live.
  await pageA.context().close();
  const text = `while on the list ${nonce}`;
  const r = await post(B_URL, '/message', { recipient: A_PK, message: text, wait_ms: 10_000 });
  assert.equal(r.body.acked, true, JSON.stringify(r.body));
  await peerButton(phoneA, B_PK).locator('.badge', { hasText: '1' }).waitFor({ timeout: WAIT });
  const onB = message(pageB, 'out', text);
  await onB.and(pageB.locator('[data-status="acked"]')).waitFor({ timeout: WAIT });
  await peerButton(phoneA, B_PK).click();
  await message(phoneA, 'in', text).waitFor({ timeout: WAIT });
  await onB.and(pageB.locator('[data-status="read"]')).waitFor({ timeout: WAIT });
  await peerButton(phoneA, B_PK).locator('.badge').waitFor({ state: 'detached', timeout: WAIT });
  await phoneA.context().close();
  await phoneB.context().close();
});
