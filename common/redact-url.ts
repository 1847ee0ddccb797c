/** A URL that is a credential in practice (a webhook's), shown as its origin only: "https://hooks.example.com/<redacted>". */
export function redactUrl(url: string): string {
  try {
    return `${new URL(url).origin}/<redacted>`;
  } catch {
    return "<redacted>";
  }
}
