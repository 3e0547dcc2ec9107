/**
 * Open an Ibis source file inside JupyterLab, at a line: search results link here instead of
 * file:// URLs (which browsers refuse to open from a page). The installed package usually lives
 * outside the server's root, so the text is read through the notebook's own kernel
 * (ibert_jupyter.jupyter.actions.source_json, which serves installed .py files only) and shown
 * in a read-only editor with Python highlighting.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { CodeEditor, CodeEditorWrapper, IEditorServices } from '@jupyterlab/codeeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

import { ibertIcon } from './icon';
import { evaluateJson } from './snapshot';

export const OPEN_SOURCE = 'ibert:open-source';

function sourceExpression(path: string): string {
  return (
    "__import__('ibert_jupyter.jupyter.actions', fromlist=['x']).source_json(" + JSON.stringify(path) + ')'
  );
}

function showSource(app: JupyterFrontEnd, editors: IEditorServices, path: string, text: string, line: number) {
  const model = new CodeEditor.Model({ mimeType: 'text/x-python' });
  model.sharedModel.setSource(text);
  const content = new CodeEditorWrapper({
    factory: editors.factoryService.newDocumentEditor,
    model,
    editorOptions: { config: { readOnly: true, lineNumbers: true } }
  });
  const widget = new MainAreaWidget({ content });
  widget.addClass('ibert-source-view');
  widget.title.label = `${path.split('/').pop()}:${line}`;
  widget.title.caption = `${path} (read-only)`;
  widget.title.icon = ibertIcon;
  widget.title.closable = true;
  app.shell.add(widget, 'main', { mode: 'split-right' });
  const position = { line: Math.max(0, line - 1), column: 0 };
  requestAnimationFrame(() => {
    content.editor.setCursorPosition(position);
    content.editor.revealPosition(position);
  });
}

export function setupSourceLinks(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  editors: IEditorServices,
  fallbackKernel: () => Kernel.IKernelConnection | null
): void {
  app.commands.addCommand(OPEN_SOURCE, {
    label: 'Open Ibis source',
    describedBy: {
      args: {
        type: 'object',
        properties: { path: { type: 'string' }, line: { type: 'number' } },
        required: ['path']
      }
    },
    execute: async args => {
      const path = String(args.path);
      const line = Number(args.line ?? 1);
      const kernel = tracker.currentWidget?.sessionContext.session?.kernel ?? fallbackKernel();
      if (!kernel) {
        throw new Error('no kernel to read the source with');
      }
      const data = (await evaluateJson(kernel, sourceExpression(path), 8000)) as { text: string };
      showSource(app, editors, path, data.text, line);
    }
  });
  // Links in %ibert_search outputs (and the sidebar) carry the path and line as data attributes.
  document.addEventListener('click', event => {
    const link = (event.target as HTMLElement | null)?.closest?.('a.ibert-source-link') as HTMLAnchorElement | null;
    if (!link || !link.dataset.ibertPath) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    void app.commands
      .execute(OPEN_SOURCE, { path: link.dataset.ibertPath, line: Number(link.dataset.ibertLine ?? 1) })
      .catch(error => {
        link.title = `Could not open the source: ${(error as Error).message}`;
      });
  }, true);
}
