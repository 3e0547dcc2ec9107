/**
 * Chat history per notebook, kept in the browser's localStorage so it survives reloads
 * (written when each turn ends, so a reload right after an answer keeps it).
 */
import { IChatAnswer } from './api';

export interface ITurn {
  question: string;
  answer?: IChatAnswer;
  /** Streamed text kept when the turn was cancelled or failed. */
  partial?: string;
  error?: string;
  cancelled?: boolean;
  at: number;
}

const PREFIX = 'ibert-chat-history:v1:';
const MAX_TURNS = 50;

function key(notebook: string): string {
  return PREFIX + notebook;
}

export function loadHistory(notebook: string): ITurn[] {
  try {
    const raw = window.localStorage.getItem(key(notebook));
    const turns = raw ? JSON.parse(raw) : [];
    return Array.isArray(turns) ? turns : [];
  } catch {
    return [];
  }
}

export function saveHistory(notebook: string, turns: ITurn[]): void {
  try {
    window.localStorage.setItem(key(notebook), JSON.stringify(turns.slice(-MAX_TURNS)));
  } catch {
    // storage full or disabled: the chat still works, it is just not kept
  }
}

export function clearHistory(notebook: string): void {
  window.localStorage.removeItem(key(notebook));
}
