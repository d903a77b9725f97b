// The HTML flamegraph page in real headless Chromium, opened from a file:// URL: it draws
// without console errors or network requests, shows tooltips, zooms on a click and resets,
// and search highlights matches and reports their share of samples.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Locator, type Page } from 'playwright-core';
import { test } from 'uvu';
import { toHtml } from '../../agent/profile/export/html.js';
import { fixtureProfile, TOTAL_SAMPLES } from '../helpers/profile-fixture.js';

// test/run.ts counts a test that prints a line starting with this as skipped, not passed.
const SKIP = 'HEARTH-SKIP';
const CHROMIUM = '/usr/bin/chromium';
const GRAPH_WIDTH = 1000;
/** Every node of the fixture's call tree, the root included. */
const ALL_FRAMES = 11;

const frames = (page: Page): Locator => page.locator('#graph .frame');
const frame = (page: Page, name: string): Locator => frames(page).filter({ hasText: new RegExp(`^${name.replace(/[.[\]()]/g, '\\$&')}$`) });

async function widthOf(locator: Locator): Promise<number> {
  const box = await locator.boundingBox();
  assert.ok(box !== null, 'the frame is drawn');
  return box.width;
}

test('profile HTML in Chromium: draws, tooltips, zooms on click, resets, searches', async () => {
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`${SKIP} profile HTML in Chromium: ${CHROMIUM} is not installed (apt-get install chromium)`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-profile-html-'));
  const file = path.join(dir, 'lookup-cold.html');
  fs.writeFileSync(file, toHtml(fixtureProfile()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--disable-background-networking'] });
  try {
    // The graph's width is the viewport less the page's margins (12 px each side).
    const page = await browser.newPage({ viewport: { width: GRAPH_WIDTH + 24, height: 600 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(file).href);

    assert.equal(await frames(page).count(), ALL_FRAMES);
    assert.ok(Math.abs((await widthOf(frame(page, 'total'))) - GRAPH_WIDTH) <= 1, 'the root spans the graph');
    assert.ok(Math.abs((await widthOf(frame(page, 'main.compute'))) - (GRAPH_WIDTH * 8) / TOTAL_SAMPLES) <= 1, 'width in proportion to samples');

    await frame(page, 'main.compute').hover();
    const tip = page.locator('#tip');
    assert.ok(await tip.isVisible());
    const tipText = await tip.innerText();
    for (const part of ['main.compute', '/srv/hearth/lookup (go)', '/src/lookup/main.go', '8 samples, 80 ms CPU (57.1%)']) assert.ok(tipText.includes(part), `tooltip ${JSON.stringify(tipText)} has ${part}`);

    await frame(page, 'main.main').click();
    assert.ok(Math.abs((await widthOf(frame(page, 'main.main'))) - GRAPH_WIDTH) <= 1, 'the clicked frame fills the width');
    assert.ok(Math.abs((await widthOf(frame(page, 'main.compute'))) - (GRAPH_WIDTH * 8) / 11) <= 1, 'its callees scale with it');
    assert.equal(await frame(page, 'start_thread').count(), 0, 'frames outside it are gone');
    assert.equal(await frame(page, '[unknown] (libfoo.so)').count(), 0);
    assert.equal(await frames(page).count(), 7, 'total, runtime.main (callers) and main.main\'s subtree');
    assert.match(await page.locator('#zoomed').innerText(), /zoomed into main\.main \(78\.6%\)/);

    await page.locator('#reset').click();
    assert.equal(await frames(page).count(), ALL_FRAMES);
    assert.ok(await page.locator('#reset').isDisabled());

    await page.locator('#search').fill('syscall');
    const matches = page.locator('#graph .frame.match');
    assert.deepEqual((await matches.allInnerTexts()).sort(), ['do_syscall_64', 'entry_SYSCALL_64', 'syscall.Syscall']);
    // Nested matches count once: 3 samples, not 9.
    assert.equal(await page.locator('#matched').innerText(), `matched 3 of ${TOTAL_SAMPLES} samples (21.4%)`);
    const highlighted = await matches.first().evaluate((element) => getComputedStyle(element).backgroundColor);
    const dimmed = await frame(page, 'main.compute').evaluate((element) => getComputedStyle(element).backgroundColor);
    assert.notEqual(highlighted, dimmed);
    await page.locator('#search').fill('');
    assert.equal(await matches.count(), 0);
    assert.equal(await page.locator('#matched').innerText(), '');

    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(requests, [], 'nothing loaded from the network');
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
