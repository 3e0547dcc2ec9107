/**
 * The iBERT sidebar: server status on top, chat below. Plain Lumino/DOM (no React) keeps
 * the extension small; all server calls live in api.ts, kernel access in snapshot.ts.
 */
import { Kernel } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { askQuestion, fetchStatus, IComponentStatus, IServerStatus } from './api';
import { el, renderAnswer, renderError, renderText } from './render';
import { kernelSnapshot } from './snapshot';

const DETAIL_KEYS = ['message', 'error', 'reason', 'detail', 'hint', 'instructions', 'name', 'path'];

function componentLine(label: string, component: IComponentStatus | undefined): HTMLElement {
  const row = el('div', 'ibert-status-row');
  const status = component?.status ?? 'unknown';
  row.dataset.component = label.toLowerCase();
  row.dataset.status = status;
  row.appendChild(el('span', 'ibert-status-label', `${label}:`));
  row.appendChild(el('span', `ibert-status-value ibert-status-${status}`, status));
  const key = DETAIL_KEYS.find(k => component && typeof component[k] === 'string' && component[k]);
  if (component && typeof component.model === 'string') {
    row.appendChild(el('span', 'ibert-status-model', ` ${component.model}`));
  }
  if (key && component) {
    // First line only; the full text (e.g. setup instructions) is in the tooltip.
    const full = String(component[key]);
    const detail = el('div', 'ibert-status-detail', full.split('\n')[0]);
    detail.title = full;
    row.appendChild(detail);
  }
  return row;
}

export class IbertPanel extends Widget {
  private statusBox = el('div', 'ibert-status');
  private log = el('div', 'ibert-log');
  private question = el('textarea', 'ibert-question jp-mod-styled');
  private askButton = el('button', 'ibert-ask jp-mod-styled jp-mod-accept', 'Ask');
  private note = el('div', 'ibert-snapshot-note');

  constructor(private readonly activeKernel: () => Kernel.IKernelConnection | null) {
    super();
    this.id = 'ibert-sidebar';
    this.addClass('ibert-panel');
    this.title.caption = 'iBERT: Ibis assistant';

    const header = el('div', 'ibert-header');
    header.appendChild(el('h2', undefined, 'iBERT'));
    const refresh = el('button', 'ibert-refresh jp-mod-styled', '↻');
    refresh.title = 'Refresh server status';
    refresh.addEventListener('click', () => void this.refreshStatus());
    header.appendChild(refresh);

    this.question.placeholder = 'Ask about Ibis, e.g. "total revenue per customer"';
    this.question.rows = 3;
    this.question.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        void this.ask();
      }
    });
    this.askButton.addEventListener('click', () => void this.ask());

    const form = el('div', 'ibert-form');
    form.appendChild(this.question);
    form.appendChild(this.askButton);

    this.log.appendChild(
      renderText('Ask a question about Ibis. The active notebook’s tables are sent along so answers use your columns.')
    );
    this.node.append(header, this.statusBox, this.log, form, this.note);
    void this.refreshStatus();
  }

  async refreshStatus(): Promise<void> {
    this.statusBox.replaceChildren(el('div', 'ibert-status-loading', 'Checking server…'));
    let status: IServerStatus;
    try {
      status = await fetchStatus();
    } catch (error) {
      this.statusBox.dataset.state = 'error';
      this.statusBox.replaceChildren(el('div', 'ibert-status-error', `Server status unavailable: ${(error as Error).message}`));
      return;
    }
    this.statusBox.dataset.state = 'ok';
    this.statusBox.replaceChildren(
      el('div', 'ibert-status-versions', `iBERT ${status.version} · Ibis ${status.ibis_version ?? '?'}`),
      componentLine('Model', status.model),
      componentLine('Index', status.index)
    );
  }

  async ask(): Promise<void> {
    const question = this.question.value.trim();
    if (!question || this.askButton.disabled) {
      return;
    }
    this.askButton.disabled = true;
    this.log.appendChild(el('div', 'ibert-question-echo', question));
    const pending = el('div', 'ibert-pending', 'Reading the kernel’s tables…');
    this.log.appendChild(pending);
    try {
      const { snapshot, note } = await kernelSnapshot(this.activeKernel());
      this.note.textContent = note ?? '';
      pending.textContent = 'Thinking…';
      const answer = await askQuestion(question, snapshot);
      pending.replaceWith(renderAnswer(answer));
      this.question.value = '';
    } catch (error) {
      pending.replaceWith(renderError((error as Error).message));
    } finally {
      this.askButton.disabled = false;
      this.log.scrollTop = this.log.scrollHeight;
    }
  }
}
