// End-to-end test of the web page: two real nodes (A and B, already connected by run.sh), one
// headless Chromium, one page per node. Messages typed in one page must show up live in the other,
// with the delivery state (acked, then read) coming back to the sender's page.
//
// A third node, C, knows nobody: its page starts a chat by pasting A's invite.
//
// Environment (set by run.sh): A_URL, B_URL, C_URL, A_PK, B_PK, C_PK, SHOTS_DIR, and DOC_SHOTS
// (where the screenshots of README.md go; unset: not taken).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const { A_URL, B_URL, C_URL, A_PK, B_PK, C_PK } = process.env;
const SHOTS = process.env.SHOTS_DIR || tmpdir();
const WAIT = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

assert.ok(A_URL && B_URL && C_URL && A_PK && B_PK && C_PK, 'run through run.sh: A_URL, B_URL, C_URL, A_PK, B_PK, C_PK are unset');

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

/** A screenshot for the documentation, when DOC_SHOTS names where they go. */
async function docShot(page, name) {
  if (!process.env.DOC_SHOTS) return;
  const path = join(process.env.DOC_SHOTS, `${name}.png`);
  await page.screenshot({ path });
  console.log(`doc screenshot: ${path}`);
}

/** The delivery state a message shows to screen readers (its icon's text alternative). */
const stateLabel = (msg) => msg.locator('.state .label').textContent();

/** Waits until the page has run everything queued before now (no request is sent later). */
const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));

/** Opens a message's actions menu with the mouse and picks the action `name`. */
async function messageAction(page, msg, name) {
  await msg.hover();
  await msg.locator('button.more').click();
  await page.getByRole('menuitem', { name, exact: true }).click();
}

/** Types `text` into the compose box and sends it; waits until the page shows it. */
async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await message(page, 'out', text).waitFor({ timeout: WAIT });
}

/** Polls `check` (async, truthy when done) until it holds or WAIT passes; returns its value. */
async function until(what, check) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const getJson = async (url) => (await fetch(url)).json();

/** Whether the node at `base` has the block and mute routes (older builds answer 404). */
async function hasPeerFlags(base, pk) {
  const r = await fetch(`${base}/peers/${pk}/mute`, { method: 'DELETE' });
  return r.status === 200;
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

  // An invite the node refuses: its 400 answer names the problem.
  await pageA.fill('#add-key', 'skychat:1234?tcp=nowhere');
  await pageA.press('#add-key', 'Enter');
  await pageA.locator('#error.shown').waitFor({ timeout: WAIT });
  const shown = await pageA.textContent('#error-text');
  assert.match(shown, /invalid invite: its key "1234"/, shown);
  assert.match(shown, /HTTP 400/, shown);
  assert.equal(await pageA.inputValue('#add-key'), 'skychat:1234?tcp=nowhere', 'the pasted text is kept');
  await pageA.click('#error-close');
  await pageA.fill('#add-key', '');
});

test('A types to B: B sees it live, A sees it acked, then read once B opens it', async () => {
  const text = `hello B, from A ${nonce}`;
  await pageA.fill('#text', text);
  await pageA.press('#text', 'Enter');
  await message(pageA, 'out', text).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#text'), '', 'the compose box is cleared once sent');

  // B has no conversation open: the message raises A's unread badge in B's list.
  await peerButton(pageB, A_PK).locator('.badge', { hasText: '1' }).waitFor({ timeout: WAIT });
  assert.equal(await pageB.title(), '(1) skychat', 'the unread total is in the tab title');
  assert.equal(await peerButton(pageB, A_PK).locator('.preview').textContent(), text, 'the last message is previewed');
  // B's node stored and acked it; B's page has not shown it, so it is acked but not read.
  const mine = message(pageA, 'out', text);
  await mine.and(pageA.locator('[data-status="acked"]')).waitFor({ timeout: WAIT });
  assert.equal(await stateLabel(mine), 'delivered');

  await peerButton(pageB, A_PK).click();
  await message(pageB, 'in', text).waitFor({ timeout: WAIT });
  await mine.and(pageA.locator('[data-status="read"]')).waitFor({ timeout: WAIT });
  await peerButton(pageB, A_PK).locator('.badge').waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await pageB.title(), 'skychat');
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

/** A key nobody runs: a peer this node has no session with and no address for. */
const NOBODY = 'ab'.repeat(30) + [...nonce.slice(0, 4).padEnd(4, '0')].map((c) => (c.charCodeAt(0) % 16).toString(16)).join('');

/** Opens the conversation with `pk` by pasting its key. */
async function startChat(page, text) {
  await page.fill('#add-key', text);
  await page.press('#add-key', 'Enter');
}

test('the thread: links open safely, days are marked, messages group, states are icons with text', async () => {
  await peerButton(pageA, B_PK).click();
  const text = `see https://example.org/path?q=1. or javascript:alert(1) <b>bold</b> ${nonce}`;
  const r = await post(B_URL, '/message', { recipient: A_PK, message: text, wait_ms: 10_000 });
  assert.equal(r.body.acked, true, JSON.stringify(r.body));
  const seen = pageA.locator('#log li.msg.in', { hasText: `<b>bold</b> ${nonce}` });
  await seen.waitFor({ timeout: WAIT });
  const links = seen.locator('.body a');
  assert.equal(await links.count(), 1, 'one link: http(s) only');
  assert.equal(await links.getAttribute('href'), 'https://example.org/path?q=1');
  assert.equal(await links.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await links.getAttribute('target'), '_blank');
  assert.equal(await seen.locator('.body b').count(), 0, 'no HTML from a message');
  assert.equal(await seen.locator('.body').textContent(), text);

  assert.equal(await pageA.locator('#log li.day').first().textContent(), 'Today');
  assert.ok(await pageA.locator('#log li.msg.in.grouped').count() > 10, 'the seeds are grouped');
  assert.equal(await pageA.locator('#log li.msg.in.grouped.followed time').first().isVisible(), false,
    'only the last of a group shows its time');
  const mine = `icons ${nonce}`;
  await pageA.fill('#text', mine);
  await pageA.press('#text', 'Enter');
  const out = message(pageA, 'out', mine);
  // B's page has A's conversation open: the message may be read as soon as it is delivered.
  await out.and(pageA.locator('[data-status="acked"], [data-status="read"]')).waitFor({ timeout: WAIT });
  assert.equal(await out.locator('.state .icon').textContent(), '\u2713\u2713');
  assert.equal(await out.locator('.state .icon').getAttribute('aria-hidden'), 'true');
  const label = await stateLabel(out);
  assert.match(label, /^(delivered|read)$/);
  assert.equal(await out.getAttribute('aria-label'), `You: ${mine} (${label})`);
});

test('reply: the quote of the original shows on both sides and leads to it', async () => {
  await peerButton(pageA, B_PK).click();
  await peerButton(pageB, A_PK).click();
  const original = `quote me ${nonce}`;
  const r = await post(B_URL, '/message', { recipient: A_PK, message: original, wait_ms: 10_000 });
  assert.equal(r.body.acked, true, JSON.stringify(r.body));
  const orig = message(pageA, 'in', original);
  await orig.waitFor({ timeout: WAIT });
  await messageAction(pageA, orig, 'Reply');
  const banner = pageA.locator('#reply-banner');
  await banner.waitFor({ timeout: WAIT });
  assert.equal(await banner.locator('.quote .text').textContent(), original);
  assert.equal(await pageA.getAttribute('#text', 'aria-describedby'), 'reply-quote counter', 'the box says what it answers');
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'text', 'the focus goes to the message box');

  const answer = `an answer ${nonce}`;
  await say(pageA, answer);
  await banner.waitFor({ state: 'hidden', timeout: WAIT });
  const mine = message(pageA, 'out', answer);
  assert.equal(await mine.locator('.quote .text').textContent(), original);
  assert.equal(await mine.locator('.quote .who').textContent(), `${B_PK.slice(0, 8)}…${B_PK.slice(-4)}`);
  const stored = (await getJson(`${A_URL}/history?peer=${B_PK}&limit=5`)).find((m) => m.message === answer);
  assert.equal(stored.reply_to, r.body.id, 'the node sent the reply with reply_to');

  // The other node received the reply with its quote; the quote leads to the original.
  const theirs = message(pageB, 'in', answer);
  await theirs.waitFor({ timeout: WAIT });
  assert.equal(await theirs.locator('.quote .who').textContent(), 'You');
  assert.equal(await theirs.locator('.quote .text').textContent(), original);
  await theirs.locator('.quote').click();
  await message(pageB, 'out', original).and(pageB.locator('.hit')).waitFor({ timeout: WAIT });
  assert.equal(await pageB.evaluate(() => document.activeElement.querySelector('.body').textContent), original);
});

test('delete for everyone: asked first, then a tombstone on both sides', async () => {
  const typo = `a tpyo ${nonce}`;
  await say(pageA, typo);
  const mine = message(pageA, 'out', typo);
  const id = await mine.getAttribute('data-id');
  await message(pageB, 'in', typo).waitFor({ timeout: WAIT });

  // By keyboard: the actions button opens the menu; End is its last item; Escape in the dialog
  // keeps the message.
  await mine.locator('button.more').focus();
  await pageA.keyboard.press('Enter');
  await pageA.locator('#menu').waitFor({ timeout: WAIT });
  assert.equal(await pageA.evaluate(() => document.activeElement.textContent), 'Reply');
  await pageA.keyboard.press('End');
  assert.equal(await pageA.evaluate(() => document.activeElement.textContent), 'Delete for everyone');
  await shot(pageA, 'desktop-menu');
  await pageA.keyboard.press('Enter');
  const dialog = pageA.locator('dialog#confirm[open]');
  await dialog.waitFor({ timeout: WAIT });
  await shot(pageA, 'desktop-confirm');
  assert.equal(await pageA.evaluate(() => document.activeElement.id), 'confirm-cancel', 'the safe choice has the focus');
  assert.equal(await pageA.getAttribute('#confirm', 'aria-labelledby'), 'confirm-title');
  await pageA.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await mine.count(), 1, 'nothing deleted without confirming');

  await messageAction(pageA, mine, 'Delete for everyone');
  await pageA.click('#confirm-ok');
  const here = pageA.locator(`#log li.msg.out.deleted[data-id="${id}"] .body`);
  await here.waitFor({ timeout: WAIT });
  assert.equal(await here.textContent(), 'You deleted this message');
  const there = pageB.locator(`#log li.msg.in.deleted[data-id="${id}"] .body`);
  await there.waitFor({ timeout: WAIT });
  assert.equal(await there.textContent(), 'This message was deleted');
  await peerButton(pageA, B_PK).locator('.preview', { hasText: /^You: message deleted$/ }).waitFor({ timeout: WAIT });
  await peerButton(pageB, A_PK).locator('.preview', { hasText: /^message deleted$/ }).waitFor({ timeout: WAIT });
  const onB = (await getJson(`${B_URL}/history?peer=${A_PK}&limit=5`)).find((m) => m.id === id);
  assert.ok(onB.deleted_at, JSON.stringify(onB));
  assert.equal(onB.message, '');

  // Delete for me: gone here only; the quotes of it say so.
  const original = `quote me ${nonce}`;
  const quoted = message(pageB, 'out', original);
  const quotedId = await quoted.getAttribute('data-id');
  await messageAction(pageB, quoted, 'Delete for me');
  assert.equal(await pageB.textContent('#confirm-ok'), 'Delete for me');
  await pageB.click('#confirm-ok');
  const mineGone = pageB.locator(`#log li.msg.out.deleted[data-id="${quotedId}"] .body`);
  await mineGone.waitFor({ timeout: WAIT });
  assert.equal(await mineGone.textContent(), 'You deleted this message');
  assert.equal(await message(pageB, 'in', `an answer ${nonce}`).locator('.quote .text').textContent(), 'deleted');
  assert.equal(await message(pageA, 'in', original).count(), 1, 'the other side keeps its copy');
  // A reload shows the tombstones from the history.
  await pageB.reload();
  await pageB.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
  await pageB.locator(`#log li.msg.in.deleted[data-id="${id}"]`).waitFor({ timeout: WAIT });
});

test('names: a peer renamed in the page is named in the list, the thread and the node', async () => {
  await peerButton(pageA, B_PK).click();
  await pageA.click('#rename');
  await pageA.fill('#rename-input', 'Bob');
  await pageA.press('#rename-input', 'Enter');
  await pageA.locator('#peer-title', { hasText: 'Bob' }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.getAttribute('#peer-title', 'title'), B_PK);
  assert.equal(await peerButton(pageA, B_PK).locator('.name').textContent(), 'Bob');
  const peers = await (await fetch(A_URL + '/peers')).json();
  assert.equal(peers.find((p) => p.pk === B_PK).alias, 'Bob');
  // A fresh page shows the name the node keeps; the list filter finds it.
  await pageA.reload();
  await pageA.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
  await pageA.locator('#peer-title', { hasText: 'Bob' }).waitFor({ timeout: WAIT });
  await pageA.fill('#search', 'bOB');
  assert.equal(await pageA.locator('#peers button.peer').count(), 1);
  await pageA.fill('#search', '');
});

const neverSent = `never to be sent ${nonce}`;
const stays = `the one that stays ${nonce}`;

test('cancel: a queued message is taken back; the one after it gets its new id', async () => {
  // C has no session with A yet and A has no address for it: what A sends C stays queued.
  await startChat(pageA, C_PK);
  await pageA.locator(`#peer-title[title="${C_PK}"]`).waitFor({ timeout: WAIT });
  await say(pageA, neverSent);
  await say(pageA, stays);
  const first = message(pageA, 'out', neverSent);
  const second = message(pageA, 'out', stays);
  await second.and(pageA.locator('[data-status="queued"]')).waitFor({ timeout: WAIT });
  const oldId = await second.getAttribute('data-id');

  await messageAction(pageA, first, 'Cancel sending');
  await first.waitFor({ state: 'detached', timeout: WAIT });
  await pageA.waitForFunction((old) => {
    const li = [...document.querySelectorAll('#log li.msg.out')].find((l) => l.dataset.id !== old &&
      l.querySelector('.body').textContent.startsWith('the one that stays'));
    return !!li;
  }, oldId, { timeout: WAIT });
  const newId = await second.getAttribute('data-id');
  assert.notEqual(newId, oldId);
  const history = await getJson(`${A_URL}/history?peer=${C_PK}`);
  assert.deepEqual(history.map((m) => [m.message, m.id]), [[stays, newId]], 'the node agrees');
  // Its menu still offers Cancel (it is queued), and no "Delete for everyone".
  await second.hover();
  await second.locator('button.more').click();
  assert.deepEqual(await pageA.locator('#menu [role="menuitem"]').allTextContents(),
    ['Reply', 'Copy text', 'Cancel sending', 'Delete for me']);
  await pageA.keyboard.press('Escape');
  await pageA.locator('#menu').waitFor({ state: 'hidden', timeout: WAIT });
  assert.equal(await pageA.evaluate(() => document.activeElement.className), 'more', 'Escape gives the focus back');
  // Away from C's conversation, so that what C sends next is delivered, not read at once.
  await peerButton(pageA, B_PK).click();
});

test('a pasted invite from the other page starts a chat that delivers', async () => {
  await pageA.click('#show-invite');
  const invite = pageA.locator('#invite-text');
  await pageA.waitForFunction(() => document.getElementById('invite-text').value !== '');
  assert.match(await invite.inputValue(), new RegExp(`^skychat:${A_PK}\\?tcp=127\\.0\\.0\\.1:\\d+$`));
  // The user's name goes into the invite, as a suggestion to whoever pastes it.
  await pageA.fill('#invite-name', 'Ann Example');
  await pageA.press('#invite-name', 'Tab');
  await pageA.waitForFunction(() => document.getElementById('invite-text').value.includes('&name='));
  const text = await invite.inputValue();
  assert.match(text, new RegExp(`^skychat:${A_PK}\\?tcp=127\\.0\\.0\\.1:\\d+&name=Ann%20Example$`));
  const api = await (await fetch(A_URL + '/invite?name=Ann%20Example')).json();
  assert.equal(api.invite, text, 'the page shows GET /invite');
  await pageA.click('#show-invite');

  const pageC = await open(C_URL, DESKTOP);
  try {
    await startChat(pageC, text);
    await pageC.locator(`#peer-title[title="${A_PK}"]`, { hasText: 'Ann Example' }).waitFor({ timeout: WAIT });
    assert.equal(await peerButton(pageC, A_PK).locator('.name').textContent(), 'Ann Example');
    await pageC.locator('#peer-state', { hasText: /^connected$/ }).waitFor({ timeout: WAIT });
    const hello = `hello A, from C by invite ${nonce}`;
    await pageC.fill('#text', hello);
    await pageC.press('#text', 'Enter');
    const mine = message(pageC, 'out', hello);
    await mine.and(pageC.locator('[data-status="acked"]')).waitFor({ timeout: WAIT });
    await peerButton(pageA, C_PK).locator('.preview', { hasText: hello }).waitFor({ timeout: WAIT });
    const peers = await (await fetch(C_URL + '/peers')).json();
    const a = peers.find((p) => p.pk === A_PK);
    assert.equal(a.persistent, true, JSON.stringify(a));
  } finally {
    await pageC.context().close();
  }
});

test('the cancelled message never reaches the peer once it connects', async () => {
  const got = await until('C to receive the queued message', async () => {
    const h = await getJson(`${C_URL}/history?peer=${A_PK}`);
    return h.some((m) => m.message === stays) && h;
  });
  assert.equal(got.filter((m) => m.message === neverSent).length, 0, JSON.stringify(got));
});

test('block: a banner, no compose box, and the blocked peer cannot deliver', async (t) => {
  if (!(await hasPeerFlags(A_URL, C_PK))) {
    t.skip('this node has no PUT /peers/:pk/block');
    return;
  }
  await peerButton(pageA, C_PK).click();
  await until('C connected to A', async () =>
    (await getJson(`${C_URL}/status`)).peers.some((p) => p.pk === A_PK && p.state === 'connected'));
  await pageA.click('#thread-menu');
  await pageA.getByRole('menuitem', { name: /^Block / }).click();
  await pageA.click('#confirm-ok');
  const banner = pageA.locator('#blocked-banner');
  await banner.waitFor({ timeout: WAIT });
  assert.match(await banner.textContent(), /You blocked Ann|You blocked [0-9a-f]{8}…/);
  assert.equal(await pageA.isDisabled('#text'), true);
  assert.equal(await pageA.isDisabled('#send'), true);
  assert.equal((await getJson(`${A_URL}/peers`)).find((p) => p.pk === C_PK).blocked, true);
  // A closed C's session and refuses new ones: what C sends waits in C's outbox.
  await until('C to lose its session with A', async () =>
    !(await getJson(`${C_URL}/status`)).peers.some((p) => p.pk === A_PK && p.state === 'connected'));
  const r = await post(C_URL, '/message', { recipient: A_PK, message: `blocked ${nonce}`, wait_ms: 1000 });
  assert.notEqual(r.body.acked, true, JSON.stringify(r.body));
  assert.equal((await getJson(`${A_URL}/history?peer=${C_PK}`)).some((m) => m.message === `blocked ${nonce}`), false);
  await shot(pageA, 'desktop-blocked');

  await pageA.click('#unblock');
  await banner.waitFor({ state: 'hidden', timeout: WAIT });
  assert.equal(await pageA.isDisabled('#text'), false);
  assert.equal((await getJson(`${A_URL}/peers`)).find((p) => p.pk === C_PK).blocked, false);
});

test('the invite\'s QR code reads back as the invite', async (t) => {
  const zbar = spawnSync('zbarimg', ['--version']);
  if (zbar.error) {
    t.skip('zbarimg is missing (apt-get install zbar-tools): the QR code is not read back');
    return;
  }
  await pageA.click('#show-invite');
  try {
    await pageA.waitForFunction(() => document.getElementById('invite-text').value.includes('&name='));
    const text = await pageA.inputValue('#invite-text');
    const qr = pageA.locator('#invite-qr svg[role="img"]');
    assert.equal(await qr.getAttribute('aria-label'), 'QR code of your invite');
    const path = join(SHOTS, 'invite-qr.png');
    await qr.screenshot({ path });
    const read = spawnSync('zbarimg', ['-q', '--raw', path], { encoding: 'utf8' });
    assert.equal(read.stdout.trim(), text, read.stderr);
    await shot(pageA, 'desktop-invite');
  } finally {
    await pageA.click('#show-invite');
  }
});

test('honest reachability: a peer nothing can reach gets a hint; a down node is told apart', async () => {
  await startChat(pageA, NOBODY);
  await pageA.locator(`#peer-title[title="${NOBODY}"]`).waitFor({ timeout: WAIT });
  const hint = pageA.locator('#reach-hint');
  await hint.waitFor({ timeout: WAIT });
  assert.match(await hint.textContent(), /is not connected and this node has no address for it/);
  const text = `into the void ${nonce}`;
  await pageA.fill('#text', text);
  await pageA.press('#text', 'Enter');
  const mine = message(pageA, 'out', text);
  await mine.and(pageA.locator('[data-status="queued"]')).waitFor({ timeout: WAIT });
  assert.equal(await stateLabel(mine), 'queued');
  await peerButton(pageA, B_PK).click();
  assert.equal(await hint.isVisible(), false, 'B is connected: no hint');

  // The page cannot reach its node: said so, apart from any peer; cleared once it answers.
  await pageA.context().setOffline(true);
  await pageA.fill('#search', 'anything');
  await pageA.locator('#offline.shown').waitFor({ timeout: WAIT });
  await pageA.locator('#error.shown').waitFor({ timeout: WAIT });
  await pageA.context().setOffline(false);
  await pageA.fill('#search', 'anything again');
  await pageA.locator('#offline').waitFor({ state: 'hidden', timeout: WAIT });
  await pageA.locator('#error').waitFor({ state: 'hidden', timeout: WAIT });
  await pageA.fill('#search', '');
});

test('the draft stays with its conversation, also across a reload', async () => {
  const forB = `draft for B ${nonce}`;
  const forNobody = `draft for nobody ${nonce}`;
  await peerButton(pageA, B_PK).click();
  await pageA.fill('#text', forB);
  await peerButton(pageA, NOBODY).click();
  assert.equal(await pageA.inputValue('#text'), '', 'another conversation has its own box');
  await pageA.fill('#text', forNobody);
  await peerButton(pageA, B_PK).click();
  assert.equal(await pageA.inputValue('#text'), forB);

  await pageA.reload();
  await pageA.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
  await pageA.locator(`#peer-title[title="${B_PK}"]`).waitFor({ timeout: WAIT });
  assert.equal(await pageA.inputValue('#text'), forB, 'kept across the reload');
  await peerButton(pageA, NOBODY).click();
  assert.equal(await pageA.inputValue('#text'), forNobody);
  await pageA.fill('#text', '');
  await peerButton(pageA, B_PK).click();
  await pageA.fill('#text', '');
});

test('history: an export downloads, and imported back into the node it is all there already', async () => {
  await pageA.click('#show-history');
  const [download] = await Promise.all([pageA.waitForEvent('download'), pageA.click('#export')]);
  assert.match(download.suggestedFilename(), new RegExp(`^skychat-export-${A_PK.slice(0, 8)}\\.jsonl$`));
  const path = join(SHOTS, download.suggestedFilename());
  await download.saveAs(path);
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'skychat-export');
  assert.equal(lines[0].node, A_PK);
  const messages = lines.filter((l) => l.type === 'message').length;
  const names = lines.filter((l) => l.type === 'peer').length;
  assert.ok(messages > 70 && names >= 1, `${messages} messages, ${names} names`);

  await pageA.setInputFiles('#import-file', path);
  const report = pageA.locator('#import-report', { hasText: /^Imported/ });
  await report.waitFor({ timeout: WAIT });
  assert.equal(await report.textContent(), `Imported ${download.suggestedFilename()}: 0 messages added, ` +
    `${messages} already here; 0 names added, ${names} skipped.`);

  // Another node's file is refused with the node's reason.
  const bad = join(SHOTS, 'not-mine.jsonl');
  writeFileSync(bad, JSON.stringify({ ...lines[0], node: B_PK }) + '\n');
  await pageA.setInputFiles('#import-file', bad);
  const refused = pageA.locator('#import-report', { hasText: /^Nothing was imported/ });
  await refused.waitFor({ timeout: WAIT });
  assert.match(await refused.textContent(), /not of this node.*HTTP 400/);
  await pageA.click('#show-history');
});

test('the URL keeps the open conversation across a reload', async () => {
  await peerButton(pageA, NOBODY).click();
  assert.equal(new URL(pageA.url()).hash, `#/chat/${NOBODY}`);
  await peerButton(pageA, B_PK).click();
  assert.equal(new URL(pageA.url()).hash, `#/chat/${B_PK}`);
  await pageA.reload();
  await pageA.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
  await pageA.locator(`#peer-title[title="${B_PK}"]`).waitFor({ timeout: WAIT });
  await pageA.locator('#log li.msg').first().waitFor({ timeout: WAIT });
  await docShot(pageA, 'desktop');
});

test('search finds a word of an old message and opens it there', async () => {
  // "reply line one" is older than the newest page of 50 messages: it is not loaded yet.
  assert.equal(await pageA.locator('#log li.msg', { hasText: 'reply line one' }).count(), 0);
  await pageA.fill('#search', 'reply');
  const hit = pageA.locator('#hit-list button.hit-btn', { hasText: `reply line one ${nonce}` });
  await hit.waitFor({ timeout: WAIT });
  await hit.click();
  const found = pageA.locator('#log li.msg.hit', { hasText: `reply line one ${nonce}` });
  await found.waitFor({ timeout: WAIT });
  assert.equal(await pageA.getAttribute('#peer-title', 'title'), B_PK);
  assert.ok(await found.isVisible());
  const box = await found.boundingBox();
  const view = await pageA.locator('#log-wrap').boundingBox();
  assert.ok(box.y >= view.y && box.y + box.height <= view.y + view.height, 'scrolled into view');
  // By keyboard: a word no peer is named after, Enter opens the first message found.
  await pageA.fill('#search', '');
  await peerButton(pageA, NOBODY).click();
  await pageA.fill('#search', 'void');
  await pageA.locator('#hit-list button.hit-btn', { hasText: `into the void ${nonce}` }).waitFor({ timeout: WAIT });
  await pageA.press('#search', 'Enter');
  await pageA.locator('#log li.msg.hit', { hasText: `into the void ${nonce}` }).waitFor({ timeout: WAIT });
  assert.equal(await pageA.getAttribute('#peer-title', 'title'), NOBODY);
  await pageA.fill('#search', '');
  await pageA.locator('#hits').waitFor({ state: 'hidden', timeout: WAIT });
  await peerButton(pageA, B_PK).click();
});

test('a message over the node\'s byte limit is blocked before sending', async () => {
  await peerButton(pageA, B_PK).click();
  const sent = [];
  const watch = (r) => { if (r.url().endsWith('/message')) sent.push(r.url()); };
  pageA.on('request', watch);
  try {
    await pageA.fill('#text', 'é'.repeat(32_001)); // 64 002 bytes of UTF-8
    const counter = pageA.locator('#counter.over');
    await counter.waitFor({ timeout: WAIT });
    assert.match(await counter.textContent(), /Too long: 64,002 of 64,000 bytes/);
    assert.equal(await pageA.isDisabled('#send'), true);
    await pageA.press('#text', 'Enter');
    await settle(pageA);
    assert.deepEqual(sent, [], 'nothing was sent');
    await pageA.fill('#text', 'é'.repeat(32_000)); // exactly the limit
    await pageA.locator('#counter:not(.over)').waitFor({ timeout: WAIT });
    assert.equal(await pageA.isDisabled('#send'), false);
  } finally {
    pageA.off('request', watch);
    await pageA.fill('#text', '');
  }
});

test('notifications: opt-in, for messages that arrive while the tab is hidden, named', async () => {
  const context = await browser.newContext(DESKTOP);
  await context.grantPermissions(['notifications'], { origin: A_URL });
  // Headless Chromium shows no notifications: record what the page asks for (the real API still
  // runs), and let the test say when the tab counts as hidden.
  await context.addInitScript(() => {
    window.shownNotifications = [];
    window.Notification = new Proxy(window.Notification, {
      construct(target, args) {
        window.shownNotifications.push({ title: args[0], body: args[1] && args[1].body });
        return Reflect.construct(target, args);
      },
    });
    window.tabHidden = false;
    Object.defineProperty(document, 'visibilityState', { get: () => (window.tabHidden ? 'hidden' : 'visible') });
  });
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`notifications: ${e.message}`));
    await page.goto(A_URL);
    await page.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
    assert.equal(await page.textContent('#notify'), 'Notify me');
    await page.click('#notify');
    await page.locator('#notify', { hasText: 'Notifications on' }).waitFor({ timeout: WAIT });
    assert.equal(await page.getAttribute('#notify', 'aria-pressed'), 'true');

    const seenWhileShown = `while the tab is shown ${nonce}`;
    assert.equal((await post(B_URL, '/message', { recipient: A_PK, message: seenWhileShown, wait_ms: 10_000 })).body.acked, true);
    await peerButton(page, B_PK).locator('.preview', { hasText: seenWhileShown }).waitFor({ timeout: WAIT });
    await page.evaluate(() => { window.tabHidden = true; });
    const hidden = `while the tab is hidden ${nonce}`;
    assert.equal((await post(B_URL, '/message', { recipient: A_PK, message: hidden, wait_ms: 10_000 })).body.acked, true);
    await page.waitForFunction(() => window.shownNotifications.length > 0, null, { timeout: WAIT });
    assert.deepEqual(await page.evaluate(() => window.shownNotifications), [{ title: 'Bob', body: hidden }]);

    // Muted: no notification, and its unread messages leave the tab's title.
    if (!(await hasPeerFlags(A_URL, B_PK))) return;
    await peerButton(page, B_PK).click();
    await page.click('#thread-menu');
    await page.getByRole('menuitem', { name: 'Mute notifications' }).click();
    await page.locator('#muted-icon').waitFor({ timeout: WAIT });
    assert.equal((await getJson(`${A_URL}/peers`)).find((p) => p.pk === B_PK).muted, true);
    await page.evaluate(() => { window.tabHidden = true; });
    const muted = `while muted ${nonce}`;
    assert.equal((await post(B_URL, '/message', { recipient: A_PK, message: muted, wait_ms: 10_000 })).body.acked, true);
    await peerButton(page, B_PK).locator('.preview', { hasText: muted }).waitFor({ timeout: WAIT });
    await peerButton(page, B_PK).locator('.badge.muted').waitFor({ timeout: WAIT });
    const counted = await page.evaluate(() => [...document.querySelectorAll('#peers .badge:not(.muted)')]
      .reduce((n, b) => n + Number(b.textContent), 0));
    assert.equal(await page.title(), (counted ? `(${counted}) ` : '') + 'skychat', 'a muted conversation is not counted in the title');
    assert.equal(await page.evaluate(() => window.shownNotifications.length), 1, 'no notification while muted');
    await page.evaluate(() => { window.tabHidden = false; });
    await page.click('#thread-menu');
    await page.getByRole('menuitem', { name: 'Unmute notifications' }).click();
    await page.locator('#muted-icon').waitFor({ state: 'hidden', timeout: WAIT });
  } finally {
    await context.close();
  }
});

test('the dark theme keeps the layout', async () => {
  const dark = await browser.newContext({ ...DESKTOP, colorScheme: 'dark' });
  try {
    const page = await dark.newPage();
    page.on('pageerror', (e) => pageErrors.push(`dark: ${e.message}`));
    await page.goto(`${A_URL}/#/chat/${B_PK}`);
    await page.locator('#live[data-live="true"]').waitFor({ timeout: WAIT });
    await page.locator('#peer-title', { hasText: 'Bob' }).waitFor({ timeout: WAIT });
    await page.locator('#log li.msg').first().waitFor({ timeout: WAIT });
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, 'rgb(17, 20, 24)');
    await docShot(page, 'desktop-dark');
  } finally {
    await dark.close();
  }
});

test('phone layout: list and conversation are separate views; Escape goes back', async () => {
  const phoneA = await open(A_URL, PHONE);
  const phoneB = await open(B_URL, PHONE);
  for (const [page, other, name] of [[phoneA, B_PK, 'a'], [phoneB, A_PK, 'b']]) {
    assert.equal(await page.locator('.sidebar').isVisible(), true);
    assert.equal(await page.locator('#chat').isVisible(), false);
    await shot(page, `phone-${name}-list`);
    if (name === 'a') await docShot(page, 'phone-list');
    await peerButton(page, other).click();
    await page.locator('#log li.msg').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.sidebar').isVisible(), false);
    assert.equal(await page.locator('#back').isVisible(), true);
    const box = await page.locator('#compose').boundingBox();
    assert.ok(box && box.y + box.height <= 844 + 1 && box.width <= 390 + 1, `compose box on screen: ${JSON.stringify(box)}`);
    await shot(page, `phone-${name}-chat`);
    if (name === 'a') await docShot(page, 'phone-chat');
    // On a touch screen Enter adds a line; the button sends.
    await page.click('#text');
    await page.keyboard.type('one');
    await page.keyboard.press('Enter');
    await page.keyboard.type('two');
    assert.equal(await page.inputValue('#text'), 'one\ntwo');
    await page.fill('#text', '');
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
