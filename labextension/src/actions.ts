/**
 * Notebook actions that act at once: insert code in a new cell directly below a cell,
 * optionally run it. Used by the chat's buttons and by kernels (Apply in %ibert_fix, Accept
 * in %%ibert) through the "ibert_actions" comm target registered on every notebook's kernel.
 * A click in a widget thus edits the notebook immediately, instead of IPython's
 * set_next_input, which JupyterLab only honours on the next execution.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

export const INSERT_BELOW = 'ibert:insert-below';
export const COMM_TARGET = 'ibert_actions';

export interface IInsertArgs {
  code: string;
  /** Id of the cell to insert below; default: the active cell. */
  cellId?: string;
  /** Run the new cell after inserting it. */
  run?: boolean;
  /** The notebook's path; default: the current notebook. */
  path?: string;
}

export interface IInsertResult {
  ok: boolean;
  index?: number;
  message?: string;
}

function findPanel(tracker: INotebookTracker, path?: string): NotebookPanel | null {
  if (path) {
    const found = tracker.find(panel => panel.context.path === path);
    if (found) {
      return found;
    }
  }
  return tracker.currentWidget;
}

/** Insert ``code`` as a new code cell right below the anchor cell of ``panel``. */
export function insertBelow(panel: NotebookPanel, args: IInsertArgs): IInsertResult {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return { ok: false, message: 'the notebook is not loaded' };
  }
  let anchor = notebook.activeCellIndex;
  if (args.cellId) {
    const index = notebook.widgets.findIndex(cell => cell.model.id === args.cellId);
    if (index >= 0) {
      anchor = index;
    }
  }
  const index = Math.min(anchor + 1, model.cells.length);
  model.sharedModel.insertCell(index, { cell_type: 'code', source: args.code.replace(/\s+$/, '') });
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  const cell = notebook.widgets[index];
  if (cell) {
    void notebook.scrollToCell(cell);
  }
  if (args.run) {
    void NotebookActions.run(notebook, panel.sessionContext);
  }
  return { ok: true, index };
}

/** The kernel side (ibert_jupyter.jupyter.actions) opens a comm with the action as its data. */
function registerComm(panel: NotebookPanel, kernel: Kernel.IKernelConnection | null): void {
  if (!kernel) {
    return;
  }
  kernel.registerCommTarget(COMM_TARGET, (comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg) => {
    const data = msg.content.data as any;
    let result: IInsertResult;
    if (data?.action === 'insert-below' && typeof data.code === 'string') {
      result = insertBelow(panel, { code: data.code, cellId: data.cell_id ?? undefined, run: !!data.run });
    } else {
      result = { ok: false, message: `unknown action ${JSON.stringify(data?.action)}` };
    }
    comm.send(result as any);
    comm.close();
  });
}

export function setupActions(app: JupyterFrontEnd, tracker: INotebookTracker): void {
  tracker.widgetAdded.connect((_, panel) => {
    const session = panel.sessionContext;
    session.kernelChanged.connect((_, change) => registerComm(panel, change.newValue));
    void session.ready.then(() => registerComm(panel, session.session?.kernel ?? null));
  });
  tracker.forEach(panel => registerComm(panel, panel.sessionContext.session?.kernel ?? null));

  app.commands.addCommand(INSERT_BELOW, {
    label: 'Insert code in a new cell below',
    describedBy: {
      args: {
        type: 'object',
        properties: {
          code: { type: 'string' },
          cellId: { type: 'string' },
          run: { type: 'boolean' },
          path: { type: 'string' }
        },
        required: ['code']
      }
    },
    execute: args => {
      const insert = args as unknown as IInsertArgs;
      const panel = findPanel(tracker, insert.path);
      if (!panel) {
        return { ok: false, message: 'no notebook is open' };
      }
      return insertBelow(panel, insert);
    }
  });
}
