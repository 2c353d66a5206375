// Drives the gateway's POST /v1/embeddings with the official `openai` npm client and prints what
// it got as one JSON object on stdout (OpenAiEmbeddingsClientIT parses and asserts it).
// Environment: NODE_PATH (where `openai` is installed), OPENAI_BASE_URL, FLOTILLA_KEY,
// FLOTILLA_MODEL (a base model), FLOTILLA_ADAPTER_MODEL (base:adapter).
'use strict';
const { OpenAI, BadRequestError } = require('openai');

const model = process.env.FLOTILLA_MODEL;
const client = new OpenAI({
  apiKey: process.env.FLOTILLA_KEY, baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0, timeout: 20000,
});

function summary(r) {
  return {
    object: r.object, model: r.model, usage: r.usage,
    data: r.data.map((d) => ({
      object: d.object, index: d.index,
      embedding: typeof d.embedding === 'string' ? d.embedding : Array.from(d.embedding),
    })),
  };
}

async function main() {
  const out = {};
  // No encoding_format: the client asks for base64 and decodes the float32 bytes itself.
  out.byDefault = summary(await client.embeddings.create({ model, input: ['hello', 'world'] }));
  out.asFloat = summary(await client.embeddings.create({
    model: process.env.FLOTILLA_ADAPTER_MODEL, input: 'one', encoding_format: 'float',
  }));
  out.asBase64 = summary(await client.embeddings.create({ model, input: [1, 2, 3], encoding_format: 'base64' }));
  try {
    await client.embeddings.create({ model, input: 'x', dimensions: 64 });
    out.dimensions = { thrown: false };
  } catch (e) {
    out.dimensions = {
      thrown: true, badRequest: e instanceof BadRequestError, status: e.status, param: e.param ?? null,
    };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
