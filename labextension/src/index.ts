/**
 * JupyterLab plugin: the iBERT sidebar (right area) and an "Open iBERT" command.
 * The chat's table context comes from the kernel of the current main-area widget
 * (notebook or console), found through its sessionContext.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { ibertIcon } from './icon';
import { IbertPanel } from './panel';

const OPEN_COMMAND = 'ibert:open-sidebar';

function kernelOf(widget: Widget | null): Kernel.IKernelConnection | null {
  const session = (widget as any)?.sessionContext?.session;
  return (session?.kernel as Kernel.IKernelConnection | undefined) ?? null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ibert-jupyter:sidebar',
  description: 'iBERT sidebar: server status and an Ibis chat that knows the kernel’s tables.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, labShell: ILabShell, palette: ICommandPalette | null) => {
    // Remember the last main-area widget with a kernel, so focusing the sidebar keeps it.
    let lastWithKernel: Widget | null = null;
    const track = () => {
      if (kernelOf(labShell.currentWidget)) {
        lastWithKernel = labShell.currentWidget;
      }
    };
    labShell.currentChanged.connect(track);

    const panel = new IbertPanel(() => {
      track();
      if (lastWithKernel && lastWithKernel.isDisposed) {
        lastWithKernel = null;
      }
      return kernelOf(labShell.currentWidget) ?? kernelOf(lastWithKernel);
    });
    panel.title.icon = ibertIcon;
    app.shell.add(panel, 'right', { rank: 600 });

    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Open iBERT',
      icon: ibertIcon,
      execute: () => {
        labShell.activateById(panel.id);
      }
    });
    palette?.addItem({ command: OPEN_COMMAND, category: 'iBERT' });
  }
};

export default plugin;
