import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { DeliveryOutcome } from './types.ts';

/**
 * STOW-RS client: POST <base>/studies with a multipart/related; type="application/dicom" body streamed
 * from the files. Node's fetch rather than dicomweb-client: dicomweb-client needs a global
 * XMLHttpRequest shim (xhr2) and buffers the whole body, while fetch streams from disk and exposes the
 * status and the Store Instances Response as they are.
 */

export interface StowSendOptions {
  timeoutMs?: number;
}

const FAILED_SOP_SEQUENCE = '00081198';
const FAILURE_REASON = '00081197';
const REFERENCED_SOP_INSTANCE = '00081155';

function studiesUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/studies') ? trimmed : `${trimmed}/studies`;
}

async function* multipartBody(files: string[], boundary: string): AsyncGenerator<Uint8Array> {
  for (const file of files) {
    yield Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    for await (const chunk of fs.createReadStream(file)) yield chunk as Buffer;
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}

interface FailedItem {
  sopInstanceUID: string;
  reason: number;
}

function failedItems(body: unknown): FailedItem[] {
  const seq = (body as Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }> | null)?.[FAILED_SOP_SEQUENCE]?.Value;
  return (seq ?? []).map((item) => ({
    sopInstanceUID: String(item[REFERENCED_SOP_INSTANCE]?.Value?.[0] ?? '?'),
    reason: Number(item[FAILURE_REASON]?.Value?.[0] ?? NaN),
  }));
}

const hex = (n: number): string => (Number.isFinite(n) ? `0x${n.toString(16).padStart(4, '0')}` : '?');

export async function sendByStow(
  url: string,
  headers: Record<string, string>,
  files: string[],
  options: StowSendOptions = {},
): Promise<DeliveryOutcome> {
  if (files.length === 0) return { status: 'delivered', detail: 'nothing to send' };
  for (const file of files) {
    try {
      await fs.promises.access(file, fs.constants.R_OK);
    } catch {
      return { status: 'rejected', detail: `file to send is missing: ${file.split('/').pop()}` };
    }
  }
  const target = studiesUrl(url);
  const host = (() => {
    try {
      return new URL(target).host;
    } catch {
      return '?';
    }
  })();
  const boundary = `bonemet-${randomUUID()}`;
  let res: Response;
  try {
    res = await fetch(target, {
      method: 'POST',
      headers: {
        ...headers,
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        Accept: 'application/dicom+json',
      },
      body: multipartBody(files, boundary) as unknown as RequestInit["body"],
      // Node's fetch needs half-duplex for a streamed request body.
      duplex: 'half',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10 * 60_000),
    } as RequestInit);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: 'retry', detail: `STOW-RS to ${host} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
  }
  const text = await res.text().catch(() => '');
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (error page)
  }
  const failed = failedItems(body);
  const failedText = failed.slice(0, 5).map((f) => `${f.sopInstanceUID} ${hex(f.reason)}`).join(', ');
  if (res.status === 200 || res.status === 202) {
    if (failed.length === 0) return { status: 'delivered', detail: `${files.length} instance(s) stored via STOW-RS at ${host} (HTTP ${res.status})` };
    const transient = failed.some((f) => (f.reason & 0xff00) === 0xa700);
    return { status: transient ? 'retry' : 'rejected', detail: `STOW-RS at ${host}: ${failed.length} of ${files.length} failed: ${failedText}` };
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    return { status: 'retry', detail: `STOW-RS at ${host} answered HTTP ${res.status}` };
  }
  // 409 (all failed), 400/401/403/404/413/415: sending the same request again gives the same answer.
  const snippet = failed.length > 0 ? failedText : text.replace(/\s+/g, ' ').slice(0, 200);
  return { status: 'rejected', detail: `STOW-RS at ${host} answered HTTP ${res.status}: ${snippet}` };
}
