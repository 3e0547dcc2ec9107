// Drives a real JupyterLab with Debian chromium through playwright-core (no browser download).
// Opens a notebook, runs its first cell (defines an Ibis table), opens the iBERT sidebar,
// reads the status, asks a question and prints ONE JSON line describing what the page showed.
//   usage: node drive_sidebar.cjs '{"url": ..., "token": ..., "notebook": ..., "question": ...,
//                                   "screenshot": ..., "userDataDir": ..., "nodeModules": ...}'
const path = require('path');

const args = JSON.parse(process.argv[2]);
const { chromium } = require(path.join(args.nodeModules, 'playwright-core'));

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
];

async function main() {
  const out = { steps: [], consoleErrors: [] };
  const context = await chromium.launchPersistentContext(args.userDataDir, {
    executablePath: args.executablePath || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 900 }
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', msg => {
    if (msg.type() === 'error') out.consoleErrors.push(msg.text().slice(0, 300));
  });
  const step = name => out.steps.push(name);
  try {
    await page.goto(`${args.url}lab/tree/${args.notebook}?token=${args.token}`);
    await page.waitForSelector('.jp-Notebook .jp-Cell', { timeout: 90000 });
    step('notebook-open');
    // Dismiss the "Jupyter news?" toast so it does not cover the sidebar.
    await page.getByRole('button', { name: 'No', exact: true }).click({ timeout: 5000 }).catch(() => {});

    // Run the first cell once the kernel is idle; its prompt then shows [1]. A run pressed
    // while the kernel connection is still settling can be dropped, so retry a few times.
    await page.waitForFunction(
      () => /\|\s*Idle/.test(document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar')?.textContent || '')
        || /\|\s*Idle/.test(document.body.innerText),
      null, { timeout: 90000 }
    );
    const ran = () => /\[1\]/.test(document.querySelector('.jp-Notebook .jp-Cell .jp-InputPrompt')?.textContent || '');
    for (let attempt = 0; attempt < 4; attempt++) {
      await page.click('.jp-Notebook .jp-Cell:first-child .jp-InputArea-editor');
      await page.keyboard.press('Control+Enter');
      try {
        await page.waitForFunction(ran, null, { timeout: 20000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    step('cell-run');

    // The sidebar tab carries the panel's id; clicking it opens the panel.
    await page.click('.jp-SideBar .lm-TabBar-tab[data-id="ibert-sidebar"]');
    await page.waitForSelector('#ibert-sidebar', { state: 'visible' });
    step('sidebar-open');
    await page.waitForSelector('#ibert-sidebar .ibert-status[data-state]', { timeout: 30000 });
    out.statusState = await page.getAttribute('#ibert-sidebar .ibert-status', 'data-state');
    out.statusText = await page.innerText('#ibert-sidebar .ibert-status');
    out.tabTitle = await page.getAttribute('.jp-SideBar .lm-TabBar-tab[data-id="ibert-sidebar"]', 'title');

    await page.fill('#ibert-sidebar .ibert-question', args.question);
    await page.click('#ibert-sidebar .ibert-ask');
    await page.waitForSelector('#ibert-sidebar .ibert-answer', { timeout: 120000 });
    step('answered');
    const answer = page.locator('#ibert-sidebar .ibert-answer').last();
    out.answerStatus = await answer.getAttribute('data-status');
    out.answerText = await answer.innerText();
    out.contextText = await answer.locator('.ibert-context').innerText().catch(() => null);
    out.symbolCount = await answer.locator('.ibert-symbol').count();
    out.codeBlocks = await answer.locator('.ibert-code > pre').allInnerTexts();
    out.badges = await answer.locator('.ibert-badge').allInnerTexts();
    out.sql = await answer.locator('.ibert-sql pre').allTextContents();
    out.notices = await answer.locator('.ibert-notice').allInnerTexts();
    out.snapshotNote = await page.innerText('#ibert-sidebar .ibert-snapshot-note');
    out.questionEcho = await page.innerText('#ibert-sidebar .ibert-question-echo');
  } catch (error) {
    out.error = String(error && error.message ? error.message : error).slice(0, 2000);
  } finally {
    await page.screenshot({ path: args.screenshot }).catch(e => (out.screenshotError = String(e)));
    await context.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(error => {
  process.stdout.write(JSON.stringify({ error: String(error) }) + '\n');
  process.exit(1);
});
