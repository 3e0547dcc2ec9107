/**
 * Inline completion (JupyterLab's inline completer API) backed by POST /ibert/complete:
 * fill-in-the-middle with the cell's text around the cursor and the kernel's table schemas.
 * JupyterLab debounces typing (debouncerDelay below); a newer request aborts the previous
 * one. After a suggestion arrives, the ghost text is marked "verified" only when the server
 * says the completed statement verified (the mark is CSS, never part of the inserted text).
 */
import {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider
} from '@jupyterlab/completer';
import { Kernel } from '@jupyterlab/services';

import { complete } from './api';
import { ibertIcon } from './icon';
import { kernelSnapshot } from './snapshot';

export const PROVIDER_ID = 'ibert-jupyter:inline-completion';
const SNAPSHOT_TTL_MS = 10000;

export class IbertInlineProvider implements IInlineCompletionProvider {
  readonly name = 'iBERT';
  readonly identifier = PROVIDER_ID;
  readonly icon = ibertIcon;
  readonly schema = { default: { debouncerDelay: 350, timeout: 30000, autoFillInMiddle: true } };
  private controller: AbortController | null = null;
  private snapshots = new WeakMap<Kernel.IKernelConnection, { at: number; value: unknown | null }>();

  /** ``enabled`` reads the iBERT setting and the model status (off until a model is configured). */
  constructor(private readonly enabled: () => boolean) {}

  private async snapshot(kernel: Kernel.IKernelConnection | null | undefined): Promise<unknown | null> {
    if (!kernel) {
      return null;
    }
    const cached = this.snapshots.get(kernel);
    if (cached && Date.now() - cached.at < SNAPSHOT_TTL_MS) {
      return cached.value;
    }
    const { snapshot } = await kernelSnapshot(kernel);
    this.snapshots.set(kernel, { at: Date.now(), value: snapshot });
    return snapshot;
  }

  async fetch(request: CompletionHandler.IRequest, context: IInlineCompletionContext): Promise<IInlineCompletionList<IInlineCompletionItem>> {
    this.controller?.abort();
    if (!this.enabled()) {
      return { items: [] };
    }
    const prefix = request.text.slice(0, request.offset);
    const suffix = request.text.slice(request.offset);
    if (!prefix.trim()) {
      return { items: [] };
    }
    const controller = new AbortController();
    this.controller = controller;
    try {
      const snapshot = await this.snapshot(context.session?.kernel);
      if (controller.signal.aborted) {
        return { items: [] };
      }
      const result = await complete(prefix, suffix, snapshot, controller.signal);
      document.body.dataset.ibertCompletion = result.verified ? 'verified' : 'unverified';
      if (!result.completion) {
        return { items: [] };
      }
      return { items: [{ insertText: result.completion }] };
    } catch (error) {
      if (controller.signal.aborted) {
        return { items: [] };
      }
      // A 503 (no model) is the expected state before one is configured: stay quiet.
      return { items: [] };
    } finally {
      if (this.controller === controller) {
        this.controller = null;
      }
    }
  }
}
