/**
 * Calls to iBERT's authenticated server routes (/ibert/...).
 * ServerConnection adds the token / XSRF headers JupyterLab already uses.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IComponentStatus {
  status: string;
  [key: string]: unknown;
}

export interface IServerStatus {
  version: string;
  ibis_version: string | null;
  model: IComponentStatus;
  index: IComponentStatus;
  [key: string]: unknown;
}

export interface IVerification {
  ok: boolean;
  stage: string;
  message: string | null;
  sql: string | null;
  verified_against: string[];
}

export interface ISegment {
  kind: 'text' | 'code';
  text: string;
  language: string | null;
  verification: IVerification | null;
}

export interface ISymbol {
  public_name: string;
  kind: string | null;
  signature: string | null;
  summary: string | null;
  score: number | null;
  url: string | null;
}

export interface IChatAnswer {
  question: string;
  status: 'answered' | 'model_unavailable';
  text: string;
  segments: ISegment[];
  symbols: ISymbol[];
  tables: string[];
  notices: string[];
  model: string | null;
}

/** One line of the streamed chat (contract B). */
export type ChatEvent =
  | { type: 'start'; id: string }
  | { type: 'token'; text: string }
  | { type: 'status'; text: string }
  | { type: 'answer'; answer: IChatAnswer }
  | { type: 'error'; error: { type: string; message: string } }
  | { type: 'done' };

export interface ICompletion {
  completion: string;
  verified: boolean;
  verification: IVerification | null;
}

export interface IModelConfig {
  model_path?: string;
  endpoint?: { url: string; model: string };
  quantization?: 'bf16' | 'nf4';
  n?: number;
  rounds?: number;
}

/** Raised with the server's own error message (e.g. a 400 naming the bad field). */
export class IbertRequestError extends Error {
  constructor(message: string, readonly status: number = 0, readonly type: string = '') {
    super(message);
  }
}

function errorText(data: any, fallback: string): { message: string; type: string } {
  const error = data?.error;
  if (error && typeof error === 'object') {
    return { message: String(error.message ?? fallback), type: String(error.type ?? '') };
  }
  if (typeof error === 'string') {
    return { message: String(data.message ?? error), type: error };
  }
  return { message: fallback, type: '' };
}

function ibertUrl(path: string): { url: string; settings: ServerConnection.ISettings } {
  const settings = ServerConnection.makeSettings();
  return { url: URLExt.join(settings.baseUrl, 'ibert', path), settings };
}

async function send(path: string, init: RequestInit): Promise<Response> {
  const { url, settings } = ibertUrl(path);
  try {
    return await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if ((error as Error)?.name === 'AbortError' || init.signal?.aborted) {
      throw error;
    }
    throw new IbertRequestError(`cannot reach the Jupyter server: ${error}`);
  }
}

async function requestIbert<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await send(path, init);
  const body = await response.text();
  let data: any = null;
  try {
    data = body ? JSON.parse(body) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const { message, type } = errorText(data, body || response.statusText);
    throw new IbertRequestError(message, response.status, type);
  }
  if (data === null) {
    throw new IbertRequestError(`the server sent a non-JSON reply for /ibert/${path}`);
  }
  return data as T;
}

export function fetchStatus(): Promise<IServerStatus> {
  return requestIbert<IServerStatus>('status');
}

export function fetchModelStatus(): Promise<IComponentStatus> {
  return requestIbert<IComponentStatus>('model');
}

export function loadModel(): Promise<IComponentStatus> {
  return requestIbert<IComponentStatus>('model/load', { method: 'POST', body: '{}' });
}

export function configureModel(config: IModelConfig): Promise<IComponentStatus> {
  return requestIbert<IComponentStatus>('model/config', { method: 'POST', body: JSON.stringify(config) });
}

export function complete(
  prefix: string,
  suffix: string,
  snapshot: unknown | null,
  signal: AbortSignal
): Promise<ICompletion> {
  return requestIbert<ICompletion>('complete', {
    method: 'POST',
    body: JSON.stringify({ prefix, suffix, snapshot }),
    signal
  });
}

export function cancelChat(id: string): Promise<{ cancelled: boolean }> {
  return requestIbert<{ cancelled: boolean }>('chat/cancel', { method: 'POST', body: JSON.stringify({ id }) });
}

/**
 * POST /ibert/chat with stream=true; calls onEvent for every NDJSON line as it arrives.
 * A server that answers with plain JSON (no streaming) is turned into one "answer" event.
 */
export async function streamChat(
  question: string,
  snapshot: unknown | null,
  onEvent: (event: ChatEvent) => void,
  signal: AbortSignal
): Promise<void> {
  const response = await send('chat', {
    method: 'POST',
    body: JSON.stringify({ question, snapshot, stream: true }),
    signal
  });
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.ok || !type.includes('ndjson') || !response.body) {
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const { message, type: kind } = errorText(data, text || response.statusText);
      throw new IbertRequestError(message, response.status, kind);
    }
    onEvent({ type: 'answer', answer: data as IChatAnswer });
    onEvent({ type: 'done' });
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) {
        onEvent(JSON.parse(line) as ChatEvent);
      }
    }
  }
  if (buffer.trim()) {
    onEvent(JSON.parse(buffer) as ChatEvent);
  }
}
