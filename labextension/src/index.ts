/**
 * JupyterLab plugin: the iBERT sidebar (right area), notebook actions (ibert:insert-below and
 * the "ibert_actions" kernel comm), source links, settings sent to the server, and the inline
 * completion provider. The chat's table context comes from the kernel of the current notebook
 * (or console), found through its sessionContext.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Kernel } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { configureModel, fetchModelStatus, IModelConfig } from './api';
import { INSERT_BELOW, setupActions } from './actions';
import { IbertInlineProvider } from './completer';
import { ibertIcon } from './icon';
import { IbertPanel } from './panel';
import { setupSourceLinks } from './source';

const PLUGIN_ID = 'ibert-jupyter:sidebar';
const OPEN_COMMAND = 'ibert:open-sidebar';
const MODEL_KEYS = ['modelPath', 'endpointUrl', 'endpointModel', 'quantization', 'candidates', 'rounds'];
const READY = new Set(['loaded', 'available', 'configured']);

function kernelOf(widget: Widget | null): Kernel.IKernelConnection | null {
  const session = (widget as any)?.sessionContext?.session;
  return (session?.kernel as Kernel.IKernelConnection | undefined) ?? null;
}

/** The server's model config from the user's settings; null when they set nothing model-related. */
export function modelConfig(settings: ISettingRegistry.ISettings): IModelConfig | null {
  const user = settings.user as Record<string, unknown>;
  if (!MODEL_KEYS.some(key => user[key] !== undefined)) {
    return null;
  }
  const get = (key: string) => settings.composite[key] as any;
  const config: IModelConfig = {
    quantization: get('quantization'),
    n: get('candidates'),
    rounds: get('rounds')
  };
  if (String(get('endpointUrl') ?? '').trim()) {
    config.endpoint = { url: String(get('endpointUrl')).trim(), model: String(get('endpointModel') || 'ibert') };
  } else if (String(get('modelPath') ?? '').trim()) {
    config.model_path = String(get('modelPath')).trim();
  }
  return config;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'iBERT: an Ibis chat that knows the kernel’s tables, notebook actions, inline completion.',
  autoStart: true,
  requires: [ILabShell, INotebookTracker, IRenderMimeRegistry, IEditorServices],
  optional: [ICommandPalette, ISettingRegistry, ICompletionProviderManager],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    editors: IEditorServices,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    completions: ICompletionProviderManager | null
  ) => {
    setupActions(app, tracker);

    // Remember the last main-area widget with a kernel, so focusing the sidebar keeps it.
    let lastWithKernel: Widget | null = null;
    const track = () => {
      if (kernelOf(labShell.currentWidget)) {
        lastWithKernel = labShell.currentWidget;
      }
    };
    labShell.currentChanged.connect(track);
    const activeKernel = () => {
      track();
      if (lastWithKernel && lastWithKernel.isDisposed) {
        lastWithKernel = null;
      }
      return kernelOf(tracker.currentWidget) ?? kernelOf(labShell.currentWidget) ?? kernelOf(lastWithKernel);
    };
    setupSourceLinks(app, tracker, editors, activeKernel);

    const panel = new IbertPanel(rendermime, {
      notebook: () => tracker.currentWidget?.context.path ?? '',
      kernel: activeKernel,
      insert: (code, run) => {
        void app.commands.execute(INSERT_BELOW, { code, run, path: tracker.currentWidget?.context.path ?? '' });
      },
      openSettings: () => void app.commands.execute('settingeditor:open', { query: 'iBERT' })
    });
    panel.title.icon = ibertIcon;
    app.shell.add(panel, 'right', { rank: 600 });
    tracker.currentChanged.connect(() => panel.showNotebook());

    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Open iBERT',
      icon: ibertIcon,
      execute: () => {
        labShell.activateById(panel.id);
      }
    });
    palette?.addItem({ command: OPEN_COMMAND, category: 'iBERT' });

    // Inline completion: off until a model is configured (setting "auto"), or as the user says.
    let completionSetting = 'auto';
    let modelReady = false;
    const refreshModel = async () => {
      try {
        modelReady = READY.has((await fetchModelStatus()).status);
      } catch {
        modelReady = false;
      }
    };
    void refreshModel();
    window.setInterval(() => {
      if (completionSetting === 'auto' && !modelReady) {
        void refreshModel();
      }
    }, 20000);
    completions?.registerInlineProvider(
      new IbertInlineProvider(() => completionSetting === 'on' || (completionSetting === 'auto' && modelReady))
    );

    if (settingRegistry) {
      const apply = async (settings: ISettingRegistry.ISettings, changed: boolean) => {
        completionSetting = String(settings.composite.inlineCompletion ?? 'auto');
        const config = modelConfig(settings);
        if (config && changed !== undefined) {
          try {
            await configureModel(config);
          } catch (error) {
            console.warn(`iBERT: the server refused the model settings: ${(error as Error).message}`);
          }
        }
        await refreshModel();
        await panel.refreshStatus();
      };
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        void apply(settings, false);
        settings.changed.connect(() => void apply(settings, true));
      });
    }
  }
};

export default plugin;
