// How one call of `AI.run(model, inputs, options)` travels to the stand-in over HTTP
// (`POST /__standin/run`, emulator/src/over_http.rs), for the production rehearsal's AI relay
// (rehearse-ai-relay.js) and for tests that call the stand-in directly: the whole call as JSON;
// or, when `inputs` carries a stream (FLUX.2's `{multipart: {body, contentType}}`), the stream
// as the request's body, unread and unchanged, and the rest of the call as URI-encoded JSON in
// `x-standin-call`, whose `streams` names the keys the stream was found under.

/** A stream, found as workerd's binding finds one: by its `getReader` method. */
const isStream = (value) => typeof value?.getReader === "function";

/** The `fetch` init of the call; its body is the inputs' stream when they carry one. */
export function standinCallInit(model, inputs, options) {
  const streams = Object.entries(inputs ?? {})
    .filter(([, value]) => isStream(value) || isStream(value?.body))
    .map(([key]) => key);
  if (streams.length === 0) {
    return {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, inputs, options }),
    };
  }
  // Every stream key is named, so the stand-in refuses several as the binding does; only the
  // first can travel (the binding refuses before reading any).
  const described = { ...inputs };
  for (const key of streams) described[key] = isStream(inputs[key]) ? null : { ...inputs[key], body: null };
  const first = inputs[streams[0]];
  return {
    method: "POST",
    headers: { "x-standin-call": encodeURIComponent(JSON.stringify({ model, inputs: described, options, streams })) },
    body: isStream(first) ? first : first.body,
    duplex: "half", // a stream body (Node's fetch requires saying so)
  };
}
