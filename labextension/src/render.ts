/**
 * DOM rendering of chat answers. Text is never injected as HTML: a tiny markdown subset
 * (paragraphs, "- " lists, `code`, **bold**) is built node by node, so model output cannot
 * inject markup into JupyterLab.
 */
import { IChatAnswer, ISegment, ISymbol, IVerification } from './api';

function el<K extends keyof HTMLElementTagNameMap>(
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

function appendInline(parent: HTMLElement, text: string): void {
  for (const part of text.split(/(`[^`\n]+`|\*\*[^*\n]+\*\*)/)) {
    if (!part) {
      continue;
    }
    if (part.startsWith('`') && part.endsWith('`') && part.length > 1) {
      parent.appendChild(el('code', undefined, part.slice(1, -1)));
    } else if (part.startsWith('**') && part.endsWith('**') && part.length > 3) {
      parent.appendChild(el('strong', undefined, part.slice(2, -2)));
    } else {
      parent.appendChild(document.createTextNode(part));
    }
  }
}

export function renderText(text: string): HTMLElement {
  const box = el('div', 'ibert-text');
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter(line => line.trim());
    if (!lines.length) {
      continue;
    }
    if (lines.every(line => /^\s*[-*]\s+/.test(line))) {
      const list = el('ul');
      for (const line of lines) {
        const item = el('li');
        appendInline(item, line.replace(/^\s*[-*]\s+/, ''));
        list.appendChild(item);
      }
      box.appendChild(list);
    } else {
      const paragraph = el('p');
      lines.forEach((line, i) => {
        if (i) {
          paragraph.appendChild(el('br'));
        }
        appendInline(paragraph, line);
      });
      box.appendChild(paragraph);
    }
  }
  return box;
}

function renderVerification(v: IVerification | null): HTMLElement {
  if (!v) {
    return el('div', 'ibert-badge ibert-badge-unverified', 'not verified');
  }
  if (v.ok) {
    const against = v.verified_against.length ? ` against ${v.verified_against.join(', ')}` : '';
    return el('div', 'ibert-badge ibert-badge-ok', `✓ verified${against}`);
  }
  return el('div', 'ibert-badge ibert-badge-failed', `✗ failed at ${v.stage}: ${v.message ?? 'unknown error'}`);
}

export function renderCode(segment: ISegment): HTMLElement {
  const box = el('div', 'ibert-code');
  const bar = el('div', 'ibert-code-bar');
  bar.appendChild(renderVerification(segment.verification));
  const copy = el('button', 'ibert-copy jp-mod-styled', 'Copy');
  copy.title = 'Copy this code to the clipboard';
  copy.addEventListener('click', () => {
    void navigator.clipboard?.writeText(segment.text).then(() => (copy.textContent = 'Copied'));
  });
  bar.appendChild(copy);
  box.appendChild(bar);
  const pre = el('pre');
  pre.appendChild(el('code', `language-${segment.language ?? 'python'}`, segment.text));
  box.appendChild(pre);
  if (segment.verification?.sql) {
    const sql = el('details', 'ibert-sql');
    sql.appendChild(el('summary', undefined, 'SQL'));
    sql.appendChild(el('pre', undefined, segment.verification.sql));
    box.appendChild(sql);
  }
  return box;
}

export function renderSymbols(symbols: ISymbol[]): HTMLElement {
  const box = el('details', 'ibert-symbols');
  box.open = true;
  box.appendChild(el('summary', undefined, `Retrieved Ibis API (${symbols.length})`));
  const list = el('ul');
  for (const symbol of symbols) {
    const item = el('li', 'ibert-symbol');
    const name = el('code', 'ibert-symbol-name', `${symbol.public_name}${symbol.signature ?? ''}`);
    item.appendChild(name);
    if (symbol.kind) {
      item.appendChild(el('span', 'ibert-symbol-kind', symbol.kind));
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
 * retrieved symbols stay in view.
 */
export function renderUnavailable(text: string): HTMLElement {
  const warning = el('div', 'ibert-unavailable');
  warning.appendChild(el('strong', undefined, 'Model unavailable'));
  const [first, ...rest] = text.split('\n');
  warning.appendChild(renderText(first));
  const details = rest.join('\n').trim();
  if (details) {
    const more = el('details', 'ibert-unavailable-details');
    more.appendChild(el('summary', undefined, 'Details and how to enable the model'));
    more.appendChild(el('pre', undefined, details));
    warning.appendChild(more);
  }
  return warning;
}

export function renderAnswer(answer: IChatAnswer): HTMLElement {
  const box = el('div', 'ibert-answer');
  box.dataset.status = answer.status;
  if (answer.status === 'model_unavailable') {
    box.appendChild(renderUnavailable(answer.text));
  } else {
    for (const segment of answer.segments) {
      box.appendChild(segment.kind === 'code' ? renderCode(segment) : renderText(segment.text));
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
  const box = el('div', 'ibert-answer ibert-error');
  box.dataset.status = 'error';
  box.appendChild(el('strong', undefined, 'Request failed'));
  box.appendChild(el('div', undefined, message));
  return box;
}

export { el };
