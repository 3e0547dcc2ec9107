/**
 * Rendering of chat answers. Prose goes through JupyterLab's markdown renderer
 * (IRenderMimeRegistry, untrusted: sanitized) and code blocks through the same renderer as a
 * fenced block, so both look like notebook markdown with highlighted code. Every code block
 * gets its verification in words and Insert / Copy / Run buttons.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { IChatAnswer, ISegment, ISymbol, IVerification } from './api';

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function button(label: string, title: string, onClick: () => void, className = ''): HTMLButtonElement {
  const node = el('button', `ibert-button ${className}`.trim(), label);
  node.type = 'button';
  node.title = title;
  node.addEventListener('click', onClick);
  return node;
}

/** Markdown through JupyterLab's renderer; plain text if it fails. */
export function renderMarkdown(rendermime: IRenderMimeRegistry, markdown: string, className = 'ibert-text'): HTMLElement {
  const box = el('div', className);
  const renderer = rendermime.createRenderer('text/markdown');
  const model = rendermime.createModel({ data: { 'text/markdown': markdown }, trusted: false });
  box.appendChild(renderer.node);
  renderer.renderModel(model).catch(() => {
    renderer.node.textContent = markdown;
  });
  return box;
}

/** The verification badge, in words (the sign is decoration, never the only signal). */
export function verificationText(v: IVerification | null): { text: string; state: 'ok' | 'failed' | 'unverified' } {
  if (!v) {
    return { text: 'Not verified: no check ran for this block', state: 'unverified' };
  }
  if (v.ok) {
    const against = v.verified_against.length ? ` against ${v.verified_against.join(', ')}` : '';
    return { text: `✓ Verified${against}`, state: 'ok' };
  }
  return { text: `✗ Not verified: failed at ${v.stage}: ${v.message ?? 'unknown error'}`, state: 'failed' };
}

export interface ICodeActions {
  insert(code: string, run: boolean): void;
}

export function renderCode(rendermime: IRenderMimeRegistry, segment: ISegment, actions: ICodeActions): HTMLElement {
  const box = el('div', 'ibert-code');
  const { text, state } = verificationText(segment.verification);
  const badge = el('div', `ibert-badge ibert-badge-${state}`, text);
  box.appendChild(badge);
  const fence = '```';
  box.appendChild(renderMarkdown(rendermime, `${fence}${segment.language ?? 'python'}\n${segment.text}\n${fence}`, 'ibert-code-body'));
  // Raw text for tests and copy: the rendered block may add markup.
  const raw = el('pre', 'ibert-code-raw', segment.text);
  raw.hidden = true;
  box.appendChild(raw);
  const bar = el('div', 'ibert-code-bar');
  bar.appendChild(button('Insert', 'Insert this code in a new cell below the active cell', () => actions.insert(segment.text, false), 'ibert-insert'));
  const copy = button('Copy', 'Copy this code to the clipboard', () => {
    void navigator.clipboard?.writeText(segment.text).then(() => (copy.textContent = 'Copied'));
  }, 'ibert-copy');
  bar.appendChild(copy);
  bar.appendChild(button('Run', 'Insert this code below the active cell and run it', () => actions.insert(segment.text, true), 'ibert-run'));
  box.appendChild(bar);
  if (segment.verification?.sql) {
    const sql = el('details', 'ibert-sql');
    sql.appendChild(el('summary', undefined, 'SQL it compiles to'));
    sql.appendChild(el('pre', undefined, segment.verification.sql));
    box.appendChild(sql);
  }
  return box;
}

export function renderSymbols(symbols: ISymbol[]): HTMLElement {
  const box = el('details', 'ibert-symbols');
  box.appendChild(el('summary', undefined, `Retrieved Ibis API (${symbols.length})`));
  const list = el('ul');
  for (const symbol of symbols) {
    const item = el('li', 'ibert-symbol');
    item.appendChild(el('code', 'ibert-symbol-name', `${symbol.public_name}${symbol.signature ?? ''}`));
    if (symbol.kind) {
      item.appendChild(el('span', 'ibert-symbol-kind', ` ${symbol.kind}`));
    }
    const match = /^file:\/\/(.*?)(?:#L(\d+))?$/.exec(symbol.url ?? '');
    if (match) {
      const link = el('a', 'ibert-source-link', 'source');
      link.href = '#';
      link.dataset.ibertPath = match[1];
      link.dataset.ibertLine = match[2] ?? '1';
      link.title = `Open ${match[1]} in JupyterLab`;
      item.append(' · ', link);
    }
    if (symbol.summary) {
      item.appendChild(el('div', 'ibert-symbol-summary', symbol.summary));
    }
    list.appendChild(item);
  }
  box.appendChild(list);
  return box;
}

/**
 * The first line says why; the rest (usually setup instructions) folds away so the
 * retrieved symbols stay in view. Shown once per chat; later answers get one line.
 */
export function renderUnavailable(text: string, first: boolean): HTMLElement {
  const warning = el('div', 'ibert-unavailable');
  if (!first) {
    warning.classList.add('ibert-unavailable-repeat');
    warning.appendChild(el('span', undefined, 'Model unavailable (see the first answer): showing the retrieved Ibis API only.'));
    return warning;
  }
  warning.appendChild(el('strong', undefined, 'Model unavailable'));
  const [head, ...rest] = text.split('\n');
  warning.appendChild(el('div', 'ibert-unavailable-reason', head));
  const details = rest.join('\n').trim();
  if (details) {
    const more = el('details', 'ibert-unavailable-details');
    more.appendChild(el('summary', undefined, 'How to enable the model'));
    more.appendChild(el('pre', undefined, details));
    warning.appendChild(more);
  }
  return warning;
}

export function renderAnswer(
  rendermime: IRenderMimeRegistry,
  answer: IChatAnswer,
  actions: ICodeActions,
  firstUnavailable: boolean
): HTMLElement {
  const box = el('div', 'ibert-answer-body');
  if (answer.status === 'model_unavailable') {
    box.appendChild(renderUnavailable(answer.text, firstUnavailable));
  } else {
    for (const segment of answer.segments) {
      box.appendChild(segment.kind === 'code' ? renderCode(rendermime, segment, actions) : renderMarkdown(rendermime, segment.text));
    }
  }
  if (answer.symbols.length) {
    box.appendChild(renderSymbols(answer.symbols));
  }
  const context = answer.tables.length ? `Tables: ${answer.tables.join(', ')}` : 'No tables from the kernel';
  box.appendChild(el('div', 'ibert-context', answer.model ? `${context} · model: ${answer.model}` : context));
  for (const notice of answer.notices) {
    box.appendChild(el('div', 'ibert-notice', notice));
  }
  return box;
}

export function renderError(message: string): HTMLElement {
  const box = el('div', 'ibert-error');
  box.appendChild(el('strong', undefined, '✗ Request failed: '));
  box.appendChild(el('span', undefined, message));
  return box;
}
