// Everything that talks to the server: the bearer token, JSON calls with the server's error shape,
// the streamed chat turn, downloads and uploads. Components never call fetch() themselves, so a 401
// anywhere sends the user back to the sign-in form through one hook.
import { readSse } from './sse.js';

const TOKEN_KEY = 'brandcoach.token';

let localMode = true;
let unauthorized = () => {};

/** An API failure: `message` is the server's own `error.message`, fit to show to the user. */
export class ApiError extends Error {
  constructor(status, message, type = 'api_error', param = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = param;
  }
}

// sessionStorage can throw (storage disabled, sandboxed frames): treat that as "no token".
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Nothing to keep it in; calls in this page will still fail with 401 and ask again.
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored.
  }
}

/**
 * local: the server's local mode, where no token is sent at all (a stale token would be refused
 * with 401 even there). onUnauthorized(error) runs for every 401.
 */
export function configureAuth({ local, onUnauthorized }) {
  localMode = Boolean(local);
  if (onUnauthorized) unauthorized = onUnauthorized;
}

export function authHeaders() {
  const token = localMode ? null : getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

const OFFLINE = 'Could not reach the server. Check the connection and try again.';

/** Turns a failed response into an ApiError, reading the server's {"error": {...}} body. */
export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status line below.
  }
  return errorFromBody(response.status, body, response.statusText);
}

export function errorFromBody(status, body, statusText = '') {
  const e = body && typeof body === 'object' ? body.error : null;
  const message =
    (e && typeof e.message === 'string' && e.message) ||
    (typeof e === 'string' && e) ||
    `The server answered ${status}${statusText ? ` ${statusText}` : ''}.`;
  return new ApiError(status, message, (e && e.type) || 'api_error', (e && e.param) || null);
}

function fail(error) {
  if (error.status === 401) unauthorized(error);
  throw error;
}

async function send(path, { method = 'GET', body, signal, headers = {}, auth = true } = {}) {
  const init = { method, signal, headers: { Accept: 'application/json', ...headers } };
  if (auth) Object.assign(init.headers, authHeaders());
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError(0, OFFLINE, 'network_error');
  }
  if (!response.ok) fail(await errorFrom(response));
  return response;
}

/** A JSON API call; resolves to the parsed body (null for an empty one). */
export async function api(path, options) {
  const response = await send(path, options);
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'The server sent an answer that is not JSON.', 'bad_response');
  }
}

/** /api/ui/config needs no token; a server without it yields null and the defaults apply. */
export async function loadConfig() {
  try {
    return await api('/api/ui/config', { auth: false });
  } catch {
    return null;
  }
}

/**
 * One streamed chat turn. handlers: onRoute(route), onDelta(text), onCitation(citation),
 * onDone(turn). Resolves with the done event's turn object; rejects with an ApiError (an `error`
 * event included) or an AbortError.
 */
export async function streamChat(message, handlers, signal) {
  const response = await send('/api/chat', {
    method: 'POST',
    body: { message, stream: true },
    headers: { Accept: 'text/event-stream' },
    signal,
  });
  const type = response.headers.get('Content-Type') || '';
  // A server that answers a stream request with plain JSON still gives a complete turn.
  if (!type.includes('text/event-stream') || !response.body) {
    const turn = await response.json();
    handlers.onDone?.(turn);
    return turn;
  }
  let turn = null;
  let failure = null;
  await readSse(response, (name, data) => {
    if (failure) return;
    if (name === 'route') handlers.onRoute?.(data);
    else if (name === 'delta') handlers.onDelta?.(data && typeof data.text === 'string' ? data.text : '');
    else if (name === 'citation') handlers.onCitation?.(data);
    else if (name === 'done') {
      turn = data && typeof data === 'object' ? data : { reply: String(data ?? '') };
      handlers.onDone?.(turn);
    } else if (name === 'error') {
      // An error event has the error body but no status line; its type says what it was.
      const kind = data?.error?.type;
      const status = kind === 'authentication_error' ? 401 : kind === 'permission_error' ? 403 : 500;
      failure = errorFromBody(status, data);
    }
  });
  if (failure) fail(failure);
  if (!turn) throw new ApiError(0, 'The answer was cut off before it finished. Try again.', 'stream_ended');
  return turn;
}

function filenameFrom(response, fallback) {
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  if (!match) return fallback;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

/**
 * Downloads a file from an authenticated route: a plain link could not send the Authorization
 * header, so the body is fetched and handed to the browser as a blob URL.
 */
export async function download(path, fallbackName) {
  const response = await send(path, { headers: { Accept: '*/*' } });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filenameFrom(response, fallbackName);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser a moment to start the download before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * Uploads files as multipart/form-data, one `file` part each. XMLHttpRequest rather than fetch
 * because only it reports upload progress. Resolves with {status, body}: the upload report comes
 * back with 400 when no file could be read, and is still worth showing.
 */
export function uploadFiles(path, files, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, OFFLINE, 'network_error'));
    xhr.onabort = () => reject(new ApiError(0, 'The upload was cancelled.', 'aborted'));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Handled below as an error without a body.
      }
      const report = body && typeof body === 'object' && !body.error;
      if (xhr.status >= 200 && xhr.status < 300) return resolve({ status: xhr.status, body });
      if (xhr.status === 400 && report) return resolve({ status: xhr.status, body });
      const error = errorFromBody(xhr.status, body, xhr.statusText);
      if (error.status === 401) unauthorized(error);
      reject(error);
    };
    xhr.send(form);
  });
}

/** Encodes one path segment (a store name or id). */
export const seg = (value) => encodeURIComponent(String(value));
