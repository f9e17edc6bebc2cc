// The smallest Worker for the lost request (README.md here): it logs each request's id on the
// way in, so a request that never reached it has no line, and spends `?busy=<ms>` of CPU, as the
// gateway and the stand-in do making an image, so the runtime's event loop runs late as theirs did.
export default {
  async fetch(request) {
    const id = request.headers.get("x-id");
    console.log(`reached ${id}`);
    await request.arrayBuffer();
    const busy = Number(new URL(request.url).searchParams.get("busy") ?? 0);
    for (const until = performance.now() + busy; performance.now() < until; );
    return new Response(`ok ${id}\n`);
  },
};
