// How a browser presents the bearer token. A browser cannot send
// `Authorization: Bearer T` when it follows a link, but it asks for HTTP
// Basic credentials by itself when told to: the dashboard takes any user name
// with the token as the password, and checks it exactly as the API checks a
// bearer token (coordinator/http-server.ts).

/** `Basic base64(user:token)` as the `Bearer token` it stands for; anything else unchanged. */
export function basicAsBearer(header: string | undefined): string | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return header;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? header : `Bearer ${decoded.slice(colon + 1)}`;
}

/** The challenge that makes a browser ask for the token. */
export const BASIC_CHALLENGE = 'Basic realm="foliofuzz dashboard (password: the --token)", charset="UTF-8"';
