// With API keys on, the page never holds one: before each call it asks Theo for a single-use ephemeral
// client secret (POST /demo/session-token, open to this page through the demo password the browser asked
// for when it opened the page, THEO_DEMO_PASSWORD). With auth off the route says so and no secret is used.

export async function clientSecret() {
  const response = await fetch("/demo/session-token", { method: "POST" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body.auth ? body.value : null;
}
