/**
 * Schema snapshot of the active kernel, taken with a silent execute request so nothing shows
 * up in the notebook or its history. The kernel answers through a user_expressions entry that
 * wraps the snapshot in IPython.display.JSON, so it arrives as application/json (no repr parsing).
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';

export const SNAPSHOT_EXPRESSION =
  "__import__('IPython.display', fromlist=['x']).JSON(" +
  "__import__('ibert_jupyter.context', fromlist=['x']).schema_snapshot(globals()))";

export const SNAPSHOT_TIMEOUT_MS = 8000;

export interface ISnapshotResult {
  snapshot: unknown | null;
  /** Why there is no snapshot (no kernel, kernel busy, ibert_jupyter missing in the kernel). */
  note: string | null;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    promise.then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      error => {
        clearTimeout(timer);
        reject(error);
      }
    );
  });
}

function parseExpression(result: any): unknown {
  if (!result || result.status !== 'ok') {
    const reason = result ? `${result.ename}: ${result.evalue}` : 'no result';
    throw new Error(`the kernel could not build a snapshot (${reason})`);
  }
  const data = result.data || {};
  if (data['application/json'] !== undefined) {
    return data['application/json'];
  }
  throw new Error('the kernel did not return the snapshot as application/json');
}

/** Evaluate ``expression`` (which must build an IPython.display.JSON) silently in ``kernel``;
 * ``what`` names the wait in a timeout's message. */
export async function evaluateJson(
  kernel: Kernel.IKernelConnection,
  expression: string,
  timeoutMs: number,
  what = 'the kernel'
): Promise<unknown> {
  const future = kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    user_expressions: { ibert_value: expression }
  });
  const reply = (await withTimeout(future.done, timeoutMs, what)) as KernelMessage.IExecuteReplyMsg;
  const content: any = reply.content;
  return parseExpression(content.user_expressions?.ibert_value);
}

export async function kernelSnapshot(kernel: Kernel.IKernelConnection | null | undefined): Promise<ISnapshotResult> {
  if (!kernel) {
    return { snapshot: null, note: 'No active kernel: asking without table context.' };
  }
  try {
    const snapshot = await evaluateJson(kernel, SNAPSHOT_EXPRESSION, SNAPSHOT_TIMEOUT_MS, 'the kernel snapshot');
    return { snapshot, note: null };
  } catch (error) {
    return { snapshot: null, note: `No table context: ${(error as Error).message}.` };
  }
}
