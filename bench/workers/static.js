// Baseline "static response": one fixed image, no parsing, no I/O. The floor for cache hits.
// The bytes are the stand-in's precomputed PNG, the very image our Worker's cache hits serve.
import IMAGE from "../.cache/standin.png";

export default {
  async fetch(request) {
    // Receive the request body before answering, as any well-behaved server does (answering first
    // makes workerd reset the connection while a large body is still being sent). It is not parsed.
    await request.arrayBuffer();
    return new Response(IMAGE, { headers: { "content-type": "image/png" } });
  },
};
