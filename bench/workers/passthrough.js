// Baseline "pass-through": the JSON body straight to the model, no checks, the model's stream
// straight back. The floor for any Worker that calls Workers AI.
const MODEL = "@cf/bytedance/stable-diffusion-xl-lightning";

export default {
  async fetch(request, env) {
    const body = await request.json();
    const stream = await env.AI.run(MODEL, body);
    return new Response(stream, { headers: { "content-type": "image/png" } });
  },
};
