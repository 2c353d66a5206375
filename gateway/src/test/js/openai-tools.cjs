// Drives the gateway's tools, tool_choice and response_format with the official `openai` npm
// client and prints what it got as one JSON object on stdout (OpenAiToolsClientIT asserts it).
// Environment: NODE_PATH, OPENAI_BASE_URL, FLOTILLA_KEY, FLOTILLA_MODEL.
'use strict';
const { OpenAI } = require('openai');

const client = new OpenAI({
  apiKey: process.env.FLOTILLA_KEY, baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0, timeout: 20000,
});
const model = process.env.FLOTILLA_MODEL;
const messages = [{ role: 'user', content: 'What is the weather in Oslo?' }];
const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

async function main() {
  const out = {};

  const named = await client.chat.completions.create({
    model, messages, tools, max_tokens: 10,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const m = named.choices[0].message;
  out.named = { finish_reason: named.choices[0].finish_reason, content: m.content, tool_calls: m.tool_calls };

  const stream = await client.chat.completions.create({
    model, messages, tools, tool_choice: 'required', max_tokens: 10, stream: true,
  });
  const streamed = { content: '', finish_reason: null, tool_calls: [] };
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    streamed.content += choice.delta.content ?? '';
    for (const call of choice.delta.tool_calls ?? []) {
      const acc = (streamed.tool_calls[call.index] ??= { id: '', type: '', function: { name: '', arguments: '' } });
      acc.id += call.id ?? '';
      acc.type += call.type ?? '';
      acc.function.name += call.function?.name ?? '';
      acc.function.arguments += call.function?.arguments ?? '';
    }
    streamed.finish_reason = choice.finish_reason ?? streamed.finish_reason;
  }
  out.streamed = streamed;

  const schema = await client.chat.completions.create({
    model, messages, max_tokens: 10,
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'weather', strict: true, schema: { type: 'object', properties: { t: { type: 'number' } }, required: ['t'] } },
    },
  });
  out.schema = { finish_reason: schema.choices[0].finish_reason, content: schema.choices[0].message.content };

  // The SDK's streaming helper: argument deltas as they come, and the accumulated completion.
  const helper = client.chat.completions.stream({
    model, messages, tools, tool_choice: 'required', max_tokens: 10,
  });
  const argumentDeltas = {};
  helper.on('tool_calls.function.arguments.delta', (e) => {
    (argumentDeltas[e.index] ??= []).push(e.arguments_delta);
  });
  const done = [];
  helper.on('tool_calls.function.arguments.done', (e) => done.push({ index: e.index, name: e.name, arguments: e.arguments }));
  const final = await helper.finalChatCompletion();
  out.helper = {
    finish_reason: final.choices[0].finish_reason,
    content: final.choices[0].message.content,
    tool_calls: final.choices[0].message.tool_calls,
    argument_deltas: argumentDeltas,
    done,
  };

  const single = await client.chat.completions.create({
    model, messages, tools, max_tokens: 10, parallel_tool_calls: false,
  });
  out.single = { finish_reason: single.choices[0].finish_reason, tool_calls: single.choices[0].message.tool_calls };

  try {
    await client.chat.completions.create({ model, messages, response_format: { type: 'xml' } });
    out.refused = { thrown: false };
  } catch (e) {
    out.refused = { thrown: true, status: e.status, param: e.param ?? null };
  }

  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
