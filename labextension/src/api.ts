/**
 * Calls to iBERT's authenticated server routes (/ibert/status, /ibert/chat).
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

/** Raised with the server's own error message (e.g. a 400 naming the bad field). */
export class IbertRequestError extends Error {}

async function requestIbert<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'ibert', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new IbertRequestError(`cannot reach the Jupyter server: ${error}`);
  }
  const body = await response.text();
  let data: any = null;
  try {
    data = body ? JSON.parse(body) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const reason = (data && (data.error || data.message)) || body || response.statusText;
    throw new IbertRequestError(`${response.status}: ${reason}`);
  }
  if (data === null) {
    throw new IbertRequestError(`the server sent a non-JSON reply for /ibert/${path}`);
  }
  return data as T;
}

export function fetchStatus(): Promise<IServerStatus> {
  return requestIbert<IServerStatus>('status');
}

export function askQuestion(question: string, snapshot: unknown | null): Promise<IChatAnswer> {
  return requestIbert<IChatAnswer>('chat', {
    method: 'POST',
    body: JSON.stringify({ question, snapshot })
  });
}
