// The official `openai` npm package against the gateway: node openai_client.mjs BASE_URL KEY
// Run by tests/test_gateway_node.py from a directory where `npm install openai` was done.
// Prints one JSON line of what it saw; exits non-zero on the first surprise.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const user = [{ role: "user", content: "hi" }];
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

function check(condition, what) {
  if (!condition) {
    throw new Error(`unexpected: ${what}`);
  }
}

const seen = {};
const chat = await client.chat.completions.create({ model: "smart", messages: user });
seen.chat = chat.choices[0].message.content;
check(seen.chat === "You said: hi", `chat content ${seen.chat}`);

const stream = await client.chat.completions.create({
  model: "smart",
  messages: user,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage ?? usage;
}
seen.stream = text;
check(text === "You said: hi" && usage && usage.total_tokens > 0, `stream ${text}`);

const tools = await client.chat.completions.create({
  model: "smart",
  messages: user,
  tools: [weather],
  stream: true,
});
let args = "";
let name = null;
let finish = null;
for await (const chunk of tools) {
  for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
    name = call.function?.name ?? name;
    args += call.function?.arguments ?? "";
  }
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
seen.tool = { name, args: JSON.parse(args), finish };
check(name === "get_weather" && finish === "tool_calls", `tool call ${name} ${finish}`);

const embedded = await client.embeddings.create({ model: "embed", input: ["a", "b"] });
seen.embeddings = embedded.data.map((d) => d.embedding.length);
check(embedded.data.length === 2 && embedded.data[0].embedding.length === 8, "embeddings");

const models = [];
for await (const model of client.models.list()) {
  models.push(model.id);
}
seen.models = models;

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

const wrong = new OpenAI({ baseURL, apiKey: "aa-wrong", maxRetries: 0 });
const denied = await failure(wrong.chat.completions.create({ model: "smart", messages: user }));
check(denied instanceof OpenAI.AuthenticationError && denied.status === 401, `401 ${denied}`);
const missing = await failure(client.chat.completions.create({ model: "nope", messages: user }));
check(missing instanceof OpenAI.NotFoundError && missing.code === "model_not_found", `404 ${missing}`);
const bad = await failure(
  client.chat.completions.create({ model: "smart", messages: user, temperature: 5 }),
);
check(bad instanceof OpenAI.BadRequestError && bad.param === "temperature", `400 ${bad}`);
seen.errors = [denied.status, missing.status, bad.status];

console.log(JSON.stringify(seen));
