import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The bearer token for write endpoints: from the config if set, else <dataDir>/api-token, created
 * on first start with mode 0600 (only the service account can read it). Returns where it came from.
 */
export function ensureApiToken(configToken: string | null, dataDir: string): { token: string; source: string } {
  if (configToken !== null) return { token: configToken, source: 'config http.apiToken' };
  const file = path.join(dataDir, 'api-token');
  if (fs.existsSync(file)) {
    const mode = fs.statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) fs.chmodSync(file, 0o600); // tighten a token file someone made world-readable
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return { token, source: file };
  }
  const token = randomBytes(32).toString('hex');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600); // umask may have widened/narrowed the create mode
  return { token, source: file };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Rejects requests without `Authorization: Bearer <token>` (constant-time compare). */
export function requireBearerToken(token: string): RequestHandler {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null || !timingSafeEqual(digest(m[1]!), expected)) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="bonemet"').json({ error: 'missing or wrong bearer token' });
      return;
    }
    next();
  };
}
