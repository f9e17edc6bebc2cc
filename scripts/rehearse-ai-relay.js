// The production rehearsal's AI binding (scripts/rehearse.mjs): served in each Worker's own
// `wrangler dev` process and bound there as `AI`, it hands each `run(model, inputs, options)` to
// the stand-in (emulator/) over HTTP (`POST /__standin/run`) and gives back what the stand-in's
// `run` gave: its image stream, its object, or an error with its name and message. Why not
// bind the stand-in itself: a ReadableStream returned by RPC across `wrangler dev` processes is
// cut short (about half of the 1024x1024 images arrived short, "Network connection lost"), and
// each Worker must be the first of a process of its own (see rehearse.mjs). A multipart run's
// stream (FLUX.2) is the request's body, as it came (standin-call.js).
import { WorkerEntrypoint } from "cloudflare:workers";
import { standinCallInit } from "./standin-call.js";

export default class AiRelay extends WorkerEntrypoint {
  async run(model, inputs, options) {
    const url = new URL("/__standin/run", this.env.STANDIN_URL);
    const res = await fetch(url, standinCallInit(model, inputs, options));
    switch (res.headers.get("x-standin-answer")) {
      case "stream":
        return res.body;
      case "json":
        return res.json();
      case "error": {
        const { name, message } = await res.json();
        const error = new Error(message);
        error.name = name;
        throw error;
      }
      default:
        throw new Error(`the stand-in answered ${res.status}: ${await res.text()}`);
    }
  }

  fetch() {
    return new Response("the rehearsal's AI relay answers RPC only", { status: 404 });
  }
}
