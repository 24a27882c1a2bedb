import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';
import { startPeerProcess } from './process.ts';

export interface OrthancOptions {
  /** Registered as DICOM modality "bonemet" in Orthanc (target of the CT routing). */
  bonemetAe?: { aet: string; host: string; port: number };
  /** Install a Lua OnStableSeries hook that C-STOREs every stable CT series to the "bonemet" modality. */
  luaRouteCtOnly?: boolean;
  /** Seconds without a new instance before Orthanc calls a series stable (default 2). */
  stableAgeSeconds?: number;
  aet?: string;
}

export interface OrthancPeer {
  httpPort: number;
  dicomPort: number;
  aet: string;
  /** e.g. http://127.0.0.1:8042 */
  baseUrl: string;
  /** DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web (STOW: POST <dicomWebUrl>/studies). */
  dicomWebUrl: string;
  /** `{ Authorization: 'Basic …' }`: Orthanc runs with authentication on, as a real PACS would. */
  authHeader: Record<string, string>;
  /** GET a REST path (e.g. '/instances') as JSON, with auth. */
  getJson<T = unknown>(pathname: string): Promise<T>;
  /** POST a REST path with a JSON or string body, with auth; returns parsed JSON (or text). */
  postJson<T = unknown>(pathname: string, body: unknown): Promise<T>;
  /** Number of instances Orthanc currently stores. */
  instanceCount(): Promise<number>;
  /** Orthanc's log so far (for assertion messages). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/*
 * Routing uses RestApiPost('/modalities/…/store') with the SERIES id: the Lua SendToModality(seriesId, …)
 * shortcut fails inside OnStableSeries ("Unable to read attachment dicom of instance <seriesId>",
 * platform notes §12) because it expects an instance id.
 */
const CT_ROUTE_LUA = `
function OnStableSeries(seriesId, tags, metadata)
  if tags['Modality'] == 'CT' then
    RestApiPost('/modalities/bonemet/store', '{"Resources":["' .. seriesId .. '"],"Asynchronous":true}')
  end
end
`;

/**
 * Starts a private Orthanc (temp storage/index, DICOMweb plugin, auth on) on free ports. Ports picked
 * by freePort() can be taken by someone else before Orthanc binds them (other tests run in parallel,
 * or the caller reserved a port the same way): a failed start is retried with fresh ports.
 */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancPeer> {
  const avoid = new Set(opts.bonemetAe ? [opts.bonemetAe.port] : []);
  let lastError: Error | null = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOrthancOnce(opts, avoid);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('Orthanc did not start');
}

async function startOrthancOnce(opts: OrthancOptions, avoid: Set<number>): Promise<OrthancPeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-'));
  let httpPort = await freePort();
  while (avoid.has(httpPort)) httpPort = await freePort();
  let dicomPort = await freePort();
  while (dicomPort === httpPort || avoid.has(dicomPort)) dicomPort = await freePort();
  const aet = opts.aet ?? 'ORTHANC';
  const user = 'bonemet';
  const password = 'bonemet-test-password';
  const luaFiles: string[] = [];
  if (opts.luaRouteCtOnly) {
    if (!opts.bonemetAe) throw new Error('startOrthanc: luaRouteCtOnly needs bonemetAe (the routing target)');
    const luaPath = path.join(dir, 'route-ct.lua');
    fs.writeFileSync(luaPath, CT_ROUTE_LUA);
    luaFiles.push(luaPath);
  }
  const config = {
    Name: 'bonemet-test-orthanc',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aet,
    DicomCheckCalledAet: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [user]: password },
    StableAge: opts.stableAgeSeconds ?? 2,
    SaveJobs: false,
    ConcurrentJobs: 2,
    DicomModalities: opts.bonemetAe ? { bonemet: [opts.bonemetAe.aet, opts.bonemetAe.host, opts.bonemetAe.port] } : {},
    LuaScripts: luaFiles,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
  };
  const configPath = path.join(dir, 'orthanc.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const logPath = path.join(dir, 'orthanc.log');
  const proc = startPeerProcess('Orthanc', [configPath], logPath, dir);

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const authHeader = { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  const stop = async (): Promise<void> => {
    await proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPort(httpPort, '127.0.0.1', 30_000);
    await waitForPort(dicomPort, '127.0.0.1', 30_000);
    const res = await fetch(`${baseUrl}/system`, { headers: authHeader });
    if (!res.ok) throw new Error(`GET /system answered ${res.status}`);
  } catch (err) {
    const tail = proc.tail();
    await stop();
    throw new Error(`Orthanc did not start: ${(err as Error).message}\n${tail}`);
  }

  const request = async <T>(method: string, pathname: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl}${pathname}`, {
      method,
      headers: { ...authHeader, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc ${method} ${pathname} -> ${res.status}: ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  };

  return {
    httpPort,
    dicomPort,
    aet,
    baseUrl,
    dicomWebUrl: `${baseUrl}/dicom-web`,
    authHeader,
    getJson: (p) => request('GET', p),
    postJson: (p, b) => request('POST', p, b),
    instanceCount: async () => (await request<string[]>('GET', '/instances')).length,
    logTail: (lines) => proc.tail(lines),
    stop,
  };
}
