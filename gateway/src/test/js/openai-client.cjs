// Drives the gateway's OpenAI-compatible HTTP API with the official `openai` npm client and
// prints what it got as one JSON object on stdout (OpenAiClientIT parses and asserts it).
// Environment: NODE_PATH (where `openai` is installed), OPENAI_BASE_URL, FLOTILLA_KEY,
// FLOTILLA_MODEL (a base model), FLOTILLA_ADAPTER_MODEL (base:adapter).
'use strict';
const { OpenAI, AuthenticationError, BadRequestError } = require('openai');

const baseURL = process.env.OPENAI_BASE_URL;
const model = process.env.FLOTILLA_MODEL;
const adapterModel = process.env.FLOTILLA_ADAPTER_MODEL;
const client = new OpenAI({ apiKey: process.env.FLOTILLA_KEY, baseURL, maxRetries: 0, timeout: 20000 });
const messages = [
  { role: 'system', content: 'Answer briefly.' },
  { role: 'user', content: 'Say something.' },
];

async function collect(stream, pick) {
  const out = { chunks: 0, text: '', finish_reason: null, usage: null, ids: new Set() };
  for await (const chunk of stream) {
    out.chunks++;
    out.ids.add(chunk.id);
    if (chunk.choices.length > 0) {
      out.text += pick(chunk.choices[0]) ?? '';
      out.finish_reason = chunk.choices[0].finish_reason ?? out.finish_reason;
    }
    if (chunk.usage) {
      out.usage = chunk.usage;
    }
  }
  out.ids = out.ids.size;
  return out;
}

async function main() {
  const out = {};

  const completion = await client.completions.create({ model, prompt: 'Hello', max_tokens: 3, temperature: 0, seed: 7, stop: ['\n'] });
  out.completion = {
    object: completion.object, id: completion.id, text: completion.choices[0].text,
    finish_reason: completion.choices[0].finish_reason, usage: completion.usage,
  };

  const chat = await client.chat.completions.create({ model: adapterModel, messages, max_completion_tokens: 2 });
  out.chat = {
    object: chat.object, role: chat.choices[0].message.role, content: chat.choices[0].message.content,
    finish_reason: chat.choices[0].finish_reason, usage: chat.usage,
  };

  const chatStream = await client.chat.completions.create({
    model, messages, max_tokens: 4, stream: true, stream_options: { include_usage: true },
  });
  out.chatStream = await collect(chatStream, (c) => c.delta.content);

  const completionStream = await client.completions.create({ model, prompt: 'Hello', max_tokens: 2, stream: true });
  out.completionStream = await collect(completionStream, (c) => c.text);

  const choices = await client.completions.create({ model, prompt: 'Hello', max_tokens: 2, n: 3, seed: 5 });
  out.choices = {
    texts: choices.choices.map((c) => [c.index, c.text, c.finish_reason]), usage: choices.usage,
  };

  const chatChoices = await client.chat.completions.create({
    model, messages, max_tokens: 2, n: 2, stream: true, stream_options: { include_usage: true },
  });
  out.chatChoices = { texts: {}, finish: {}, usage: null };
  for await (const chunk of chatChoices) {
    for (const c of chunk.choices) {
      out.chatChoices.texts[c.index] = (out.chatChoices.texts[c.index] ?? '') + (c.delta.content ?? '');
      if (c.finish_reason) {
        out.chatChoices.finish[c.index] = c.finish_reason;
      }
    }
    if (chunk.usage) {
      out.chatChoices.usage = chunk.usage;
    }
  }

  // Sampling controls: OpenAI's, and vLLM's extensions sent as extra body fields.
  const chatTop = await client.chat.completions.create({
    model, messages, max_tokens: 2, seed: 11, presence_penalty: 0.5, frequency_penalty: -0.25,
    logit_bias: { 7: -100, 12: 2 }, logprobs: true, top_logprobs: 3,
    repetition_penalty: 1.1, min_tokens: 1, stop_token_ids: [42],
  });
  out.chatTop = { logprobs: chatTop.choices[0].logprobs };

  const completionTop = await client.completions.create({ model, prompt: 'Hello', max_tokens: 2, logprobs: 2 });
  out.completionTop = { logprobs: completionTop.choices[0].logprobs };

  const chatTopStream = await client.chat.completions.create({
    model, messages, max_completion_tokens: 2, logprobs: true, top_logprobs: 2, stream: true,
  });
  out.chatTopStream = [];
  for await (const chunk of chatTopStream) {
    if (chunk.choices.length > 0 && chunk.choices[0].logprobs) {
      out.chatTopStream.push(...chunk.choices[0].logprobs.content);
    }
  }

  try {
    await client.completions.create({ model, prompt: 'Hello', max_tokens: 1, n: 17 });
    out.tooManyChoices = { thrown: false };
  } catch (e) {
    out.tooManyChoices = { thrown: true, status: e.status, param: e.param ?? null };
  }

  try {
    await client.chat.completions.create({ model, messages, presence_penalty: 3 });
    out.badPenalty = { thrown: false };
  } catch (e) {
    out.badPenalty = { thrown: true, badRequest: e instanceof BadRequestError, status: e.status, param: e.param ?? null };
  }

  out.models = [];
  for await (const m of client.models.list()) {
    out.models.push(m.id);
  }

  try {
    const wrong = new OpenAI({ apiKey: 'flk_not_a_key', baseURL, maxRetries: 0 });
    await wrong.completions.create({ model, prompt: 'Hello', max_tokens: 1 });
    out.wrongKey = { thrown: false };
  } catch (e) {
    out.wrongKey = {
      thrown: true, authenticationError: e instanceof AuthenticationError, status: e.status,
      code: e.code ?? null, type: e.type ?? null,
    };
  }

  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
