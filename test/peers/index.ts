// Real peers for tests and benches: Orthanc (with DICOMweb + Lua routing), dcmtk storescp/storescu/echoscu,
// an MLLP listener. Each start* returns a handle whose stop() ends the process and removes its temp files.
export { freePort, waitForPort } from './ports.ts';
export { startOrthanc, type OrthancOptions, type OrthancPeer } from './orthanc.ts';
export { startStorescp, storescu, echoscu, type StorescpPeer, type DimsePeerAddress } from './dcmtk.ts';
export { startMllpListener, type MllpListenerPeer } from './mllp.ts';
export { runTool, startPeerProcess, type PeerProcess, type ToolResult } from './process.ts';
