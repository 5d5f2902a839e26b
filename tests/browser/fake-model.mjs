// A stand-in for an OpenAI-compatible Chat Completions server that streams its answer a word at a
// time, slowly enough for a browser to see the text grow. It prints its address on stdout.
import { createServer } from 'node:http';

const ANSWER = 'Start with the one customer you serve best [1]. Describe their day, what they worry about, '
  + 'and the words they use for it [1]. Then check every message you send against that picture.';
const WORD_DELAY_MS = 40;

function chunk(delta, finish = null) {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: 'fake',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
}

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (part) => { body += part; });
  request.on('end', async () => {
    const parsed = JSON.parse(body || '{}');
    if (!parsed.stream) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({
        id: 'chatcmpl-fake', object: 'chat.completion', created: 0, model: 'fake',
        choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 30, total_tokens: 40 },
      }));
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream' });
    response.write(chunk({ role: 'assistant', content: '' }));
    for (const word of ANSWER.split(/(?<= )/)) {
      await new Promise((resolve) => setTimeout(resolve, WORD_DELAY_MS));
      if (response.destroyed) return;
      response.write(chunk({ content: word }));
    }
    response.write(chunk({}, 'stop'));
    response.end('data: [DONE]\n\n');
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}`);
});
