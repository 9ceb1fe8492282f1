import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import { HttpError, methodNotAllowed, unauthorized } from '../http-errors.js';

// POST /v1/hooks/git: a Git host's push webhook makes a resolver that follows a remote
// (`--remote`) fetch at once, instead of at its next interval. Signed with BOTVER_WEBHOOK_SECRET
// the way each host signs: GitHub's X-Hub-Signature-256 (sha256=HMAC of the body), Gitea's and
// Forgejo's X-Gitea-Signature / X-Forgejo-Signature (hex HMAC of the body), GitLab's
// X-Gitlab-Token (the secret itself). Every comparison is in constant time; a missing or bad
// signature is 401 and triggers nothing. The payload itself is not used (the fetch brings
// every branch), so the body is hashed as it streams in, never held.

/** GitHub's limit for a webhook payload. */
const MAX_HOOK_BYTES = 25 * 1024 * 1024;

export interface HookTarget {
  /** A push happened: fetch now (bursts coalesce into one fetch). */
  trigger(): void;
}

export function hookRoutes(secret: string | undefined, target: HookTarget | undefined): Router {
  const router = Router();
  router
    .route('/v1/hooks/git')
    .post(async (req, res) => {
      if (!target)
        throw new HttpError(
          'NOT_FOUND',
          'this resolver serves a local repository; push webhooks are for `botver serve --remote URL`',
        );
      if (!secret || !(await signedWith(req, secret))) throw unauthorized();
      target.trigger();
      res.status(202).set('Cache-Control', 'no-store').json({ status: 'fetching' });
    })
    .all(methodNotAllowed('POST'));
  return router;
}

/** Whether the request carries a valid signature of one of the hosts' kinds. */
async function signedWith(req: Request, secret: string): Promise<boolean> {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v.trim() : undefined;
  };
  const gitlab = header('x-gitlab-token');
  if (gitlab !== undefined) {
    req.resume(); // the body is not needed
    return sameBytes(sha256(gitlab), sha256(secret));
  }
  const github = header('x-hub-signature-256');
  const gitea = header('x-gitea-signature') ?? header('x-forgejo-signature');
  const claimed = github !== undefined ? /^sha256=([0-9a-f]{64})$/i.exec(github)?.[1] : gitea;
  if (claimed === undefined) {
    req.resume();
    return false;
  }
  const digest = await hmacOfBody(req, secret);
  // A claim that is not 64 hex digits is compared all the same (constant time), then refused.
  const wellFormed = /^[0-9a-f]{64}$/i.test(claimed);
  const same = sameBytes(wellFormed ? Buffer.from(claimed, 'hex') : Buffer.alloc(32), digest);
  return same && wellFormed;
}

function hmacOfBody(req: Request, secret: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hmac = createHmac('sha256', secret);
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_HOOK_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError('PAYLOAD_TOO_LARGE', `a webhook payload is at most ${MAX_HOOK_BYTES} bytes`));
        return;
      }
      hmac.update(chunk);
    });
    req.once('end', () => resolve(hmac.digest()));
    req.once('error', reject);
  });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
