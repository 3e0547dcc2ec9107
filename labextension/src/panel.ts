/**
 * The iBERT sidebar: server and model status (with a load control) on top, the chat below.
 * Plain Lumino/DOM keeps the extension small; server calls live in api.ts, kernel access in
 * snapshot.ts, rendering in render.ts, persistence in history.ts.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Kernel } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  cancelChat,
  ChatEvent,
  fetchStatus,
  IComponentStatus,
  IServerStatus,
  loadModel,
  streamChat
} from './api';
import { clearHistory, ITurn, loadHistory, saveHistory } from './history';
import { button, el, ICodeActions, renderAnswer, renderError } from './render';
import { kernelSnapshot } from './snapshot';

const DETAIL_KEYS = ['message', 'error', 'reason', 'detail', 'hint', 'instructions', 'name', 'path'];
const GOOD = new Set(['ok', 'ready', 'loaded', 'configured', 'available']);
const WORDS: Record<string, string> = {
  loaded: '✓ loaded',
  configured: '✓ endpoint configured',
  available: 'weights found, not loaded yet',
  ok: '✓ ready',
  ready: '✓ ready',
  unavailable: '✗ unavailable',
  misconfigured: '✗ misconfigured',
  missing: '✗ not built',
  outdated: '✗ outdated',
  degraded: 'degraded (no symbol graph)',
  loading: 'loading…'
};

export function statusWords(status: string): string {
  return WORDS[status] ?? (GOOD.has(status) ? `✓ ${status}` : status);
}

/** Where the chat sends its questions and inserts its code. */
export interface IChatContext {
  /** Path of the notebook the chat belongs to ('' for none). */
  notebook(): string;
  kernel(): Kernel.IKernelConnection | null;
  insert(code: string, run: boolean): void;
  openSettings(): void;
}

export class IbertPanel extends Widget {
  private statusBox = el('div', 'ibert-status');
  private chatTitle = el('div', 'ibert-chat-title');
  private log = el('div', 'ibert-log');
  private question = el('textarea', 'ibert-question');
  private askButton = el('button', 'ibert-button ibert-ask ibert-primary', 'Ask');
  private note = el('div', 'ibert-snapshot-note');
  private controller: AbortController | null = null;
  private requestId: string | null = null;
  private turns: ITurn[] = [];
  private shownNotebook: string | null = null;
  private unavailableShown = false;
  private loading: number | null = null;

  constructor(
    private readonly rendermime: IRenderMimeRegistry,
    private readonly context: IChatContext
  ) {
    super();
    this.id = 'ibert-sidebar';
    this.addClass('ibert-panel');
    this.title.caption = 'iBERT: Ibis assistant';

    const header = el('div', 'ibert-header');
    header.appendChild(el('h2', undefined, 'iBERT'));
    const tools = el('div', 'ibert-tools');
    tools.append(
      button('New chat', 'Start a new chat for this notebook (clears its history)', () => this.newChat(), 'ibert-new-chat'),
      button('Settings', 'Model, endpoint and completion settings', () => this.context.openSettings(), 'ibert-settings'),
      button('Refresh', 'Refresh the server and model status', () => void this.refreshStatus(), 'ibert-refresh')
    );
    header.appendChild(tools);

    this.question.placeholder = 'Ask about Ibis, e.g. "total revenue per customer"';
    this.question.rows = 3;
    this.question.setAttribute('aria-label', 'Question for iBERT');
    this.question.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        void this.ask();
      }
    });
    this.askButton.type = 'button';
    this.askButton.addEventListener('click', () => (this.controller ? this.cancel() : void this.ask()));

    const form = el('div', 'ibert-form');
    form.append(this.question, this.askButton);
    this.node.append(header, this.statusBox, this.chatTitle, this.log, form, this.note);
    void this.refreshStatus();
    this.showNotebook();
  }

  // -- status -------------------------------------------------------------------------------
  private componentLine(label: string, component: IComponentStatus | undefined): HTMLElement {
    const row = el('div', 'ibert-status-row');
    const status = this.loading !== null && label === 'Model' ? 'loading' : component?.status ?? 'unknown';
    row.dataset.component = label.toLowerCase();
    row.dataset.status = status;
    row.appendChild(el('span', 'ibert-status-label', `${label}:`));
    row.appendChild(el('span', `ibert-status-value ibert-status-${GOOD.has(status) ? 'good' : 'bad'}`, statusWords(status)));
    // an endpoint serves its own model name; a local backend names its weights
    const name = component?.backend === 'openai' ? component?.endpoint_model : component?.model;
    if (typeof name === 'string' && name) {
      row.appendChild(el('span', 'ibert-status-model', ` ${name}`));
    }
    if (label === 'Model' && status === 'available' && !component?.loaded) {
      row.appendChild(button('Load model', 'Load the model into the server now (otherwise the first request loads it)', () => void this.load(), 'ibert-load'));
    }
    if (label === 'Model' && this.loading !== null) {
      const seconds = Math.round((Date.now() - this.loading) / 1000);
      row.appendChild(el('div', 'ibert-status-detail ibert-progress', `Loading the model… ${seconds} s`));
    }
    const key = DETAIL_KEYS.find(k => component && typeof component[k] === 'string' && component[k]);
    if (key && component) {
      // First line only; the full text (e.g. setup instructions) is in the tooltip.
      const full = String(component[key]);
      const detail = el('div', 'ibert-status-detail', full.split('\n')[0]);
      detail.title = full;
      row.appendChild(detail);
    }
    return row;
  }

  async refreshStatus(): Promise<void> {
    if (!this.statusBox.dataset.state) {
      this.statusBox.replaceChildren(el('div', 'ibert-status-loading', 'Checking the server…'));
    }
    let status: IServerStatus;
    try {
      status = await fetchStatus();
    } catch (error) {
      this.statusBox.dataset.state = 'error';
      this.statusBox.replaceChildren(el('div', 'ibert-status-error', `✗ Server status unavailable: ${(error as Error).message}`));
      return;
    }
    this.statusBox.dataset.state = 'ok';
    this.statusBox.replaceChildren(
      el('div', 'ibert-status-versions', `iBERT ${status.version} · Ibis ${status.ibis_version ?? '?'}`),
      this.componentLine('Model', status.model),
      this.componentLine('Index', status.index)
    );
  }

  private async load(): Promise<void> {
    this.loading = Date.now();
    const ticker = window.setInterval(() => void this.refreshStatus(), 1000);
    void this.refreshStatus();
    let failure: string | null = null;
    try {
      await loadModel();
    } catch (error) {
      failure = (error as Error).message;
    } finally {
      window.clearInterval(ticker);
      this.loading = null;
    }
    await this.refreshStatus();
    if (failure) {
      this.statusBox.appendChild(el('div', 'ibert-status-error', `✗ Loading failed: ${failure}`));
    }
  }

  // -- history --------------------------------------------------------------------------------
  /** Show the chat of the current notebook (called when the active notebook changes). */
  showNotebook(): void {
    const notebook = this.context.notebook();
    if (notebook === this.shownNotebook || this.controller) {
      return;
    }
    this.shownNotebook = notebook;
    this.chatTitle.textContent = notebook ? `Chat for ${notebook.split('/').pop()}` : 'Chat (no notebook open)';
    this.chatTitle.title = notebook;
    this.turns = loadHistory(notebook);
    this.unavailableShown = false;
    this.log.replaceChildren();
    if (!this.turns.length) {
      this.log.appendChild(
        el('div', 'ibert-welcome', 'Ask a question about Ibis. The active notebook’s table schemas (never its data) are sent along so answers use your columns.')
      );
    }
    for (const turn of this.turns) {
      const { body } = this.appendTurn(turn.question);
      this.fillTurn(body, turn);
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  private newChat(): void {
    if (this.controller) {
      this.cancel();
    }
    clearHistory(this.context.notebook());
    this.shownNotebook = null;
    this.showNotebook();
  }

  private appendTurn(question: string): { echo: HTMLElement; answer: HTMLElement; body: HTMLElement } {
    this.log.querySelector('.ibert-welcome')?.remove();
    const echo = el('div', 'ibert-question-echo', question);
    const answer = el('div', 'ibert-answer');
    const body = el('div', 'ibert-answer-slot');
    answer.appendChild(body);
    this.log.append(echo, answer);
    return { echo, answer, body };
  }

  private actions(): ICodeActions {
    return { insert: (code, run) => this.context.insert(code, run) };
  }

  /** Render a finished turn (from history or just streamed) into its slot. */
  private fillTurn(slot: HTMLElement, turn: ITurn): void {
    const answer = slot.parentElement as HTMLElement;
    slot.replaceChildren();
    if (turn.answer) {
      answer.dataset.status = turn.answer.status;
      const first = turn.answer.status === 'model_unavailable' && !this.unavailableShown;
      if (turn.answer.status === 'model_unavailable') {
        this.unavailableShown = true;
      }
      slot.appendChild(renderAnswer(this.rendermime, turn.answer, this.actions(), first));
      return;
    }
    if (turn.partial) {
      slot.appendChild(el('div', 'ibert-stream', turn.partial));
    }
    if (turn.cancelled) {
      answer.dataset.status = 'cancelled';
      slot.appendChild(el('div', 'ibert-cancelled', '✗ Cancelled: the model stopped; nothing was verified.'));
    } else {
      answer.dataset.status = 'error';
      slot.appendChild(renderError(turn.error ?? 'no answer'));
    }
  }

  // -- chat -------------------------------------------------------------------------------------
  cancel(): void {
    const id = this.requestId;
    this.controller?.abort();
    if (id) {
      void cancelChat(id).catch(() => undefined);
    }
  }

  async ask(): Promise<void> {
    const question = this.question.value.trim();
    if (!question || this.controller) {
      return;
    }
    this.showNotebook();
    const notebook = this.context.notebook();
    const turn: ITurn = { question, at: Date.now() };
    const { echo, answer, body } = this.appendTurn(question);
    answer.dataset.status = 'streaming';
    const progress = el('div', 'ibert-pending', 'Reading the kernel’s tables…');
    const stream = el('div', 'ibert-stream');
    body.append(progress, stream);
    // Keep the question at the top of the view; the answer grows below it.
    echo.scrollIntoView({ block: 'start' });
    this.question.value = '';
    const controller = new AbortController();
    this.controller = controller;
    this.requestId = null;
    this.askButton.textContent = 'Stop';
    this.askButton.title = 'Stop generating';
    this.askButton.classList.add('ibert-stop');
    let partial = '';
    try {
      const { snapshot, note } = await kernelSnapshot(this.context.kernel());
      this.note.textContent = note ?? '';
      progress.textContent = 'Waiting for the model…';
      await streamChat(
        question,
        snapshot,
        (event: ChatEvent) => {
          switch (event.type) {
            case 'start':
              this.requestId = event.id;
              break;
            case 'token':
              partial += event.text;
              stream.appendChild(document.createTextNode(event.text));
              progress.textContent = 'Generating…';
              break;
            case 'status':
              progress.textContent = event.text;
              break;
            case 'answer':
              turn.answer = event.answer;
              break;
            case 'error':
              turn.error = `${event.error.type}: ${event.error.message}`;
              break;
          }
        },
        controller.signal
      );
      if (!turn.answer && !turn.error) {
        turn.error = 'the server closed the stream without an answer';
      }
    } catch (error) {
      if (controller.signal.aborted) {
        turn.cancelled = true;
      } else {
        turn.error = (error as Error).message;
      }
    } finally {
      turn.partial = partial || undefined;
      this.controller = null;
      this.requestId = null;
      this.askButton.textContent = 'Ask';
      this.askButton.title = 'Ask iBERT';
      this.askButton.classList.remove('ibert-stop');
    }
    this.fillTurn(body, turn);
    this.turns.push(turn);
    saveHistory(notebook, this.turns);
  }
}
