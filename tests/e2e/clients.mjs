// The official clients as apps configure them, pointed at a gateway, each call from an address
// of its own. Shared by the OpenAI, AI SDK and FLUX.2 client tests.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import OpenAI from "openai";
import { BASE, someIp, tokenFor } from "./helpers.mjs";

/**
 * The `openai` SDK. No retries: failures must show. Its key is any where the gateway takes
 * anyone, a token of the caller's own where it requires one.
 */
export const openaiSdk = (base = BASE, apiKey) => {
  const ip = someIp();
  return new OpenAI({
    apiKey: apiKey ?? (base === BASE ? tokenFor(ip, "any-key") : "any-key"),
    baseURL: `${base}/v1`,
    maxRetries: 0,
    timeout: 120_000,
    defaultHeaders: { "cf-connecting-ip": ip },
  });
};

/** The AI SDK's OpenAI-compatible provider. */
export const aiSdkGateway = () => {
  const ip = someIp();
  return createOpenAICompatible({
    name: "gateway",
    baseURL: `${BASE}/v1`,
    apiKey: tokenFor(ip, "any-key"),
    headers: { "cf-connecting-ip": ip },
  });
};

/** An Images API answer item's image bytes. */
export const bytesOf = (item) => Buffer.from(item.b64_json, "base64");
