import { loadConfig } from '../core/kernel/config';

/**
 * Where a command that works through the running hub's operator API finds the hub and an operator
 * token: the options, or else HUB_URL and HUB_OPERATOR_TOKEN, or else the hub's own configuration
 * when HUB_CONFIG names it; never the demo's. A string answer is why there is no token.
 */
export function operatorAccess(url: string | undefined, token: string | undefined): { url: string; token: string } | string {
  const config = process.env.HUB_CONFIG ? loadConfig() : null;
  const local = config ? `http://${config.http.host}:${config.http.port}` : `http://${process.env.HUB_HTTP_HOST || '127.0.0.1'}:${process.env.HUB_HTTP_PORT || 8080}`;
  const found = token ?? process.env.HUB_OPERATOR_TOKEN ?? config?.tokens.find((t) => t.roles.includes('operator') && t.secret)?.secret;
  if (!found) return 'no operator token: pass --token, set HUB_OPERATOR_TOKEN, or set HUB_CONFIG to the hub\'s configuration (where the operator token is given as tokenHash, only --token or HUB_OPERATOR_TOKEN can)';
  return { url: (url ?? process.env.HUB_URL ?? local).replace(/\/+$/, ''), token: found };
}
