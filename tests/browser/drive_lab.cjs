// Drives a real JupyterLab with Debian chromium through playwright-core (no browser download)
// through every iBERT state the browser tests check, and prints ONE JSON line of what it saw.
// Lab runs with expose_app_in_browser, so cells are created and run through JupyterLab's own
// commands; the clicks the tests measure (Apply, Accept, Insert, Stop, Tab) are real input.
//   usage: node drive_lab.cjs '{"url", "token", "notebook", "screenshots", "userDataDir",
//                               "nodeModules", "executablePath"}'
const path = require('path');

const args = JSON.parse(process.argv[2]);
const { chromium } = require(path.join(args.nodeModules, 'playwright-core'));

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
];
const SIDEBAR = '#ibert-sidebar';

async function main() {
  const out = { steps: [], consoleErrors: [], shots: [] };
  const context = await chromium.launchPersistentContext(args.userDataDir, {
    executablePath: args.executablePath || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1500, height: 950 }
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', msg => {
    if (msg.type() === 'error') out.consoleErrors.push(msg.text().slice(0, 300));
  });
  const step = name => out.steps.push(name);
  const shot = async (name, theme) => {
    const file = path.join(args.screenshots, `${name}-${theme}.png`);
    await page.screenshot({ path: file });
    out.shots.push(file);
  };

  // -- helpers running inside the page ----------------------------------------------------
  const cellCount = () => page.evaluate(() => window.jupyterapp.shell.currentWidget.content.model.cells.length);
  const sources = () =>
    page.evaluate(() => {
      const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
      return Array.from({ length: cells.length }, (_, i) => cells.get(i).sharedModel.getSource());
    });
  // Append a code cell at the end, run it, wait for its execution to finish; returns its index.
  const addAndRun = async (source, timeout = 120000) => {
    const index = await page.evaluate(async src => {
      const app = window.jupyterapp;
      const nb = app.shell.currentWidget.content;
      nb.activeCellIndex = nb.widgets.length - 1;
      await app.commands.execute('notebook:insert-cell-below');
      nb.activeCell.model.sharedModel.setSource(src);
      await app.commands.execute('notebook:run-cell');
      return nb.activeCellIndex;
    }, source);
    await page.waitForFunction(
      i => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const cell = nb.widgets[i];
        return cell && cell.model.executionCount !== null && cell.model.executionState === 'idle';
      },
      index, { timeout }
    );
    return index;
  };
  // Arm a clock: the page records when the next cell is inserted (performance.now()).
  const armInsertClock = () =>
    page.evaluate(() => {
      const model = window.jupyterapp.shell.currentWidget.content.model;
      window.__ibertInsert = null;
      window.__ibertClick = null;
      document.addEventListener('pointerdown', () => (window.__ibertClick = performance.now()), { capture: true, once: true });
      const onChange = (_, change) => {
        if (change.type === 'add' && window.__ibertInsert === null) {
          window.__ibertInsert = { at: performance.now(), index: change.newIndex };
          model.cells.changed.disconnect(onChange);
        }
      };
      model.cells.changed.connect(onChange);
    });
  const readInsertClock = async () => {
    await page.waitForFunction(() => window.__ibertInsert !== null, null, { timeout: 5000 });
    return page.evaluate(() => ({ ms: window.__ibertInsert.at - window.__ibertClick, index: window.__ibertInsert.index }));
  };
  const setTheme = async theme => {
    const name = { dark: 'JupyterLab Dark', light: 'JupyterLab Light', 'high-contrast': 'JupyterLab Dark High Contrast' }[theme];
    await page.evaluate(n => window.jupyterapp.commands.execute('apputils:change-theme', { theme: n }), name);
    await page.waitForFunction(
      n => document.body.dataset.jpThemeName === n, name, { timeout: 20000 }
    );
    await page.waitForTimeout(400);
  };
  // WCAG contrast of every visible text in the sidebar against its effective background.
  const contrast = () =>
    page.evaluate(sel => {
      const parse = c => {
        const m = c.match(/rgba?\(([^)]+)\)/);
        if (!m) return [0, 0, 0, 0];
        const p = m[1].split(',').map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
      };
      const blend = (top, bottom) => {
        const a = top[3];
        return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
      };
      const background = node => {
        const layers = [];
        for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
          const c = parse(getComputedStyle(n).backgroundColor);
          if (c[3] > 0) layers.push(c);
          if (c[3] >= 1) break;
        }
        let colour = [255, 255, 255, 1];
        for (const layer of layers.reverse()) colour = blend(layer, colour);
        return colour;
      };
      const lum = c => {
        const [r, g, b] = c.slice(0, 3).map(v => {
          v /= 255;
          return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const results = [];
      const root = document.querySelector(sel);
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const el = t.parentElement;
        if (!t.textContent.trim() || !el || !el.getClientRects().length) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
        const bg = background(el);
        let fg = parse(style.color);
        let opacity = 1;
        for (let n = el; n && n !== root.parentElement; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
        fg = blend([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
        const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        results.push({ text: t.textContent.trim().slice(0, 60), cls: el.className, ratio: (l1 + 0.05) / (l2 + 0.05) });
      }
      results.sort((a, b) => a.ratio - b.ratio);
      return { count: results.length, worst: results.slice(0, 5) };
    }, SIDEBAR);
  const ask = async question => {
    await page.fill(`${SIDEBAR} .ibert-question`, question);
    await page.click(`${SIDEBAR} .ibert-ask`);
  };
  // Record, in the page, when text first shows in the last streaming answer and how it grows.
  const watchStream = () =>
    page.evaluate(sel => {
      window.__ibertStream = { first: null, lengths: [] };
      const log = document.querySelector(`${sel} .ibert-log`);
      const observer = new MutationObserver(() => {
        const streams = log.querySelectorAll('.ibert-stream');
        const last = streams[streams.length - 1];
        const length = last ? last.textContent.length : 0;
        if (length > 0 && window.__ibertStream.first === null) window.__ibertStream.first = Date.now();
        window.__ibertStream.lengths.push([Date.now(), length]);
      });
      observer.observe(log, { childList: true, subtree: true, characterData: true });
      window.__ibertObserver = observer;
    }, SIDEBAR);

  try {
    await page.goto(`${args.url}lab/tree/${args.notebook}?token=${args.token}`);
    await page.waitForSelector('.jp-Notebook .jp-Cell', { timeout: 90000 });
    await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel, null, { timeout: 90000 });
    await page.getByRole('button', { name: 'No', exact: true }).click({ timeout: 3000 }).catch(() => {});
    await page.waitForFunction(
      () => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle', null, { timeout: 90000 }
    );
    step('notebook-open');
    // the extension sends the lab's iBERT settings to the server when it starts
    out.modelAfterSettings = await page.evaluate(async () => {
      const settings = window.jupyterapp.serviceManager.serverSettings;
      for (let i = 0; i < 60; i++) {
        const response = await fetch(`${settings.baseUrl}ibert/model`, { headers: { Authorization: `token ${settings.token}` } });
        const body = await response.json();
        if (body.status === 'configured') return body;
        await new Promise(r => setTimeout(r, 500));
      }
      return { status: 'not configured after 30 s' };
    });
    await page.evaluate(async () => {
      const app = window.jupyterapp;
      app.shell.currentWidget.content.activeCellIndex = 0;
      await app.commands.execute('notebook:run-cell');
    });
    await page.waitForFunction(() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.executionCount !== null, null, { timeout: 60000 });
    step('setup-cell-run');

    // -- Apply (%ibert_fix) --------------------------------------------------------------
    await addAndRun("orders.group_by('o_orderkey').agg(total=orders.o_totalprice.summ())");
    const fixCell = await addAndRun('%ibert_fix --no-model');
    const apply = page.locator('.jp-Notebook .jp-Cell').nth(fixCell).locator('button.jupyter-button', { hasText: 'Apply' });
    await apply.waitFor({ timeout: 60000 });
    let before = await cellCount();
    await armInsertClock();
    await apply.click();
    const applied = await readInsertClock();
    const afterApply = await sources();
    out.apply = { ms: applied.ms, index: applied.index, anchor: fixCell, before, after: afterApply.length, code: afterApply[applied.index] };
    await page.waitForTimeout(300);
    out.apply.status = await page.locator('.jp-Notebook .jp-Cell').nth(fixCell).locator('.widget-html').last().innerText().catch(() => null);
    step('apply');
    await shot('apply-inserted', 'light');

    // -- Accept (%%ibert through the server and the fake endpoint) ----------------------------
    const genCell = await addAndRun('%%ibert --n 1 --rounds 1\ntotal price per order key');
    const accept = page.locator('.jp-Notebook .jp-Cell').nth(genCell).locator('button.jupyter-button', { hasText: 'Accept' });
    await accept.waitFor({ timeout: 60000 });
    out.acceptPanel = await page.locator('.jp-Notebook .jp-Cell').nth(genCell).locator('.jp-Cell-outputArea').first().innerText();
    before = await cellCount();
    await armInsertClock();
    await accept.click();
    const accepted = await readInsertClock();
    const afterAccept = await sources();
    out.accept = { ms: accepted.ms, index: accepted.index, anchor: genCell, before, after: afterAccept.length, code: afterAccept[accepted.index] };
    step('accept');
    await shot('accept-inserted', 'light');

    // -- a %ibert_search source link opens the file inside JupyterLab ----------------------------
    const linkCell = await addAndRun(
      'import ibis.expr.types.relations as _rel\nfrom IPython.display import HTML\n' +
      'from ibert_jupyter.jupyter.magics_search import source_link\n' +
      'HTML(source_link(_rel.__file__, 40, "relations.py:40"))'
    );
    await page.locator('.jp-Notebook .jp-Cell').nth(linkCell).locator('a.ibert-source-link').click();
    await page.waitForSelector('.ibert-source-view .cm-content', { timeout: 20000 });
    await page.waitForTimeout(300);
    out.sourceView = await page.evaluate(() => {
      const app = window.jupyterapp;
      const view = Array.from(app.shell.widgets('main')).find(w => w.hasClass('ibert-source-view'));
      const editor = view.content.editor;
      return {
        tabs: Array.from(document.querySelectorAll('.lm-TabBar-tabLabel')).map(t => t.textContent),
        text: editor.model.sharedModel.getSource().slice(0, 200),
        lines: editor.lineCount,
        cursorLine: editor.getCursorPosition().line + 1,
        highlighted: view.node.querySelectorAll('.cm-content span[class]').length
      };
    });
    await shot('source-view', 'light');
    await page.evaluate(() => {
      const app = window.jupyterapp;
      const view = Array.from(app.shell.widgets('main')).find(w => w.hasClass('ibert-source-view'));
      view?.close();
      const nb = Array.from(app.shell.widgets('main')).find(w => w.content && w.content.model && w.content.model.cells);
      if (nb) app.shell.activateById(nb.id);
    });
    step('source-link');

    // -- sidebar, streamed chat ------------------------------------------------------------
    await page.click('.jp-SideBar .lm-TabBar-tab[data-id="ibert-sidebar"]');
    await page.waitForSelector(`${SIDEBAR} .ibert-status[data-state]`, { timeout: 30000 });
    out.statusText = await page.innerText(`${SIDEBAR} .ibert-status`);
    out.sidebarWidth = await page.evaluate(sel => document.querySelector(sel).getBoundingClientRect().width, SIDEBAR);
    step('sidebar-open');
    await watchStream();
    await ask('slowly: total price per order key');
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a.length && a[a.length - 1].dataset.status === 'streaming' && a[a.length - 1].querySelector('.ibert-stream').textContent.length > 20;
    }, SIDEBAR, { timeout: 60000 });
    await shot('chat-streaming', 'light');
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a.length && a[a.length - 1].dataset.status !== 'streaming';
    }, SIDEBAR, { timeout: 60000 });
    out.stream = await page.evaluate(() => window.__ibertStream);
    const answer = page.locator(`${SIDEBAR} .ibert-answer`).last();
    out.answerStatus = await answer.getAttribute('data-status');
    out.codeBlocks = await answer.locator('.ibert-code-raw').allTextContents();
    out.renderedCode = await answer.locator('.ibert-code-body pre').allInnerTexts();
    out.highlighted = await answer.locator('.ibert-code-body pre span[class]').count();
    out.badges = await answer.locator('.ibert-badge').allInnerTexts();
    out.context = await answer.locator('.ibert-context').innerText().catch(() => null);
    step('streamed');
    await shot('chat-answer', 'light');

    // Insert from the chat: below the notebook's active cell.
    const active = await page.evaluate(() => window.jupyterapp.shell.currentWidget.content.activeCellIndex);
    await armInsertClock();
    await answer.locator('.ibert-insert').first().click();
    const inserted = await readInsertClock();
    out.chatInsert = { ms: inserted.ms, index: inserted.index, anchor: active, code: (await sources())[inserted.index] };
    step('chat-insert');

    // -- Cancel ----------------------------------------------------------------------------
    await watchStream();
    await ask('tell me at length about ibis');
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a[a.length - 1].querySelector('.ibert-stream')?.textContent.length > 10;
    }, SIDEBAR, { timeout: 60000 });
    out.cancelClickedMs = Date.now();
    await page.click(`${SIDEBAR} .ibert-ask.ibert-stop`);
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a[a.length - 1].dataset.status === 'cancelled';
    }, SIDEBAR, { timeout: 10000 });
    const cancelledText = await page.locator(`${SIDEBAR} .ibert-answer`).last().innerText();
    const lengthAtCancel = await page.evaluate(sel => {
      const s = document.querySelectorAll(`${sel} .ibert-stream`);
      return s[s.length - 1].textContent.length;
    }, SIDEBAR);
    await page.waitForTimeout(1500);
    const lengthLater = await page.evaluate(sel => {
      const s = document.querySelectorAll(`${sel} .ibert-stream`);
      return s[s.length - 1].textContent.length;
    }, SIDEBAR);
    out.cancel = { text: cancelledText, lengthAtCancel, lengthLater, buttonText: await page.innerText(`${SIDEBAR} .ibert-ask`) };
    step('cancelled');
    await shot('chat-cancelled', 'light');
    out.contrastLight = await contrast();

    // -- inline completion -----------------------------------------------------------------
    const completionCell = await page.evaluate(async () => {
      const app = window.jupyterapp;
      app.shell.activateById(app.shell.currentWidget.id);
      const nb = app.shell.currentWidget.content;
      nb.activeCellIndex = nb.widgets.length - 1;
      await app.commands.execute('notebook:insert-cell-below');
      return nb.activeCellIndex;
    });
    await page.locator('.jp-Notebook .jp-Cell').nth(completionCell).locator('.cm-content').click();
    await page.keyboard.type('result = orders', { delay: 30 });
    const typedAt = Date.now();
    await page.waitForSelector('.jp-GhostText', { timeout: 30000 });
    out.completion = {
      ghostAfterMs: Date.now() - typedAt,
      ghost: await page.innerText('.jp-GhostText'),
      mark: await page.evaluate(() => document.body.dataset.ibertCompletion || null),
      badge: await page.evaluate(() => getComputedStyle(document.querySelector('.jp-GhostText'), '::after').content)
    };
    await shot('inline-completion', 'light');
    await page.keyboard.press('Tab');
    await page.waitForTimeout(300);
    out.completion.accepted = (await sources())[completionCell];
    step('completion');

    // -- history across a reload -------------------------------------------------------------
    await page.evaluate(() => window.jupyterapp.commands.execute('docmanager:save'));
    await page.reload();
    await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell.currentWidget?.content?.model, null, { timeout: 90000 });
    await page.click('.jp-SideBar .lm-TabBar-tab[data-id="ibert-sidebar"]');
    await page.waitForSelector(`${SIDEBAR} .ibert-question-echo`, { timeout: 30000 });
    out.historyAfterReload = {
      questions: await page.locator(`${SIDEBAR} .ibert-question-echo`).allInnerTexts(),
      statuses: await page.locator(`${SIDEBAR} .ibert-answer`).evaluateAll(n => n.map(a => a.dataset.status)),
      codeBlocks: await page.locator(`${SIDEBAR} .ibert-code-raw`).allTextContents()
    };
    step('reloaded');

    // -- dark theme: the same states, contrast measured again ----------------------------------
    await setTheme('dark');
    await page.waitForSelector(`${SIDEBAR} .ibert-code`, { timeout: 10000 });
    await shot('chat-answer', 'dark');
    out.contrastDark = await contrast();
    await watchStream();
    await ask('slowly: total price per order key');
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a[a.length - 1].dataset.status === 'streaming' && a[a.length - 1].querySelector('.ibert-stream').textContent.length > 20;
    }, SIDEBAR, { timeout: 60000 });
    await shot('chat-streaming', 'dark');
    out.contrastDarkStreaming = await contrast();
    await page.waitForFunction(sel => {
      const a = document.querySelectorAll(`${sel} .ibert-answer`);
      return a[a.length - 1].dataset.status !== 'streaming';
    }, SIDEBAR, { timeout: 60000 });
    await page.evaluate(() => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      const i = nb.widgets.findIndex(c => c.model.sharedModel.getSource().startsWith('%ibert_fix'));
      if (i >= 0) void nb.scrollToCell(nb.widgets[i]);
    });
    await shot('apply-inserted', 'dark');
    step('dark');

    // -- no model: the settings send a missing model folder; "unavailable" is said once ----------
    out.noModel = await page.evaluate(async () => {
      const settings = window.jupyterapp.serviceManager.serverSettings;
      const response = await fetch(`${settings.baseUrl}ibert/model/config`, {
        method: 'POST',
        headers: { Authorization: `token ${settings.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model_path: '/nonexistent/devstral' })
      });
      return { status: response.status, body: await response.json() };
    });
    await page.click(`${SIDEBAR} .ibert-new-chat`);
    for (const q of ['total price per order key', 'count orders']) {
      await ask(q);
      await page.waitForFunction(({ sel, n }) => {
        const a = document.querySelectorAll(`${sel} .ibert-answer`);
        return a.length === n && a[n - 1].dataset.status !== 'streaming';
      }, { sel: SIDEBAR, n: q === 'count orders' ? 2 : 1 }, { timeout: 60000 });
    }
    await page.click(`${SIDEBAR} .ibert-refresh`);
    await page.waitForTimeout(500);
    out.unavailable = {
      statuses: await page.locator(`${SIDEBAR} .ibert-answer`).evaluateAll(n => n.map(a => a.dataset.status)),
      full: await page.locator(`${SIDEBAR} .ibert-unavailable:not(.ibert-unavailable-repeat)`).count(),
      repeat: await page.locator(`${SIDEBAR} .ibert-unavailable-repeat`).count(),
      text: await page.locator(`${SIDEBAR} .ibert-log`).innerText()
    };
    await shot('chat-unavailable', 'dark');
    out.contrastDarkUnavailable = await contrast();
    await setTheme('high-contrast');
    await shot('chat-unavailable', 'high-contrast');
    out.contrastHighContrastUnavailable = await contrast();
    await setTheme('light');
    await shot('chat-unavailable', 'light');
    out.contrastLightUnavailable = await contrast();
    step('unavailable');
  } catch (error) {
    out.error = String(error && error.message ? error.message : error).slice(0, 3000);
    await page.screenshot({ path: path.join(args.screenshots, 'failure.png') }).catch(() => {});
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(error => {
  process.stdout.write(JSON.stringify({ error: String(error) }) + '\n');
  process.exit(1);
});
