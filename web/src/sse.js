// A server-sent-events parser for a fetch() body. EventSource cannot send a POST body or an
// Authorization header, so /api/chat's stream is read with a ReadableStream reader and cut into
// events here, following the parts of the SSE format the server uses (and tolerating the rest).

/**
 * Returns a push(text) function that accepts decoded chunks of the stream in any sizes and calls
 * onEvent(name, data) once per complete event, and an end() that flushes a last event the stream
 * did not close with a blank line.
 */
export function createSseParser(onEvent) {
  let buffer = '';
  let name = '';
  let data = [];

  const dispatch = () => {
    if (data.length > 0) onEvent(name || 'message', data.join('\n'));
    name = '';
    data = [];
  };

  const line = (text) => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) return; // a comment, e.g. a keep-alive
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
    // id and retry mean nothing to a one-shot POST stream.
  };

  return {
    push(chunk) {
      buffer += chunk;
      // Lines end with \n, \r\n or a lone \r; a \r at the very end may be half of a \r\n.
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        if (c === '\r' && i === buffer.length - 1) break;
        line(buffer.slice(start, i));
        if (c === '\r' && buffer[i + 1] === '\n') i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
    end() {
      if (buffer !== '') line(buffer.replace(/\r$/, ''));
      buffer = '';
      dispatch();
    },
  };
}

/** Reads a fetch Response body as SSE, calling onEvent(name, parsedJsonOrText) for each event. */
export async function readSse(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = createSseParser((name, raw) => {
    let data = raw;
    try {
      data = JSON.parse(raw);
    } catch {
      // Not JSON: hand the text over as it is.
    }
    onEvent(name, data);
  });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(decoder.decode(value, { stream: true }));
  }
  parser.push(decoder.decode());
  parser.end();
}
