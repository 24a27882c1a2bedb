/**
 * The contract between the listeners (DIMSE C-STORE SCP, STOW-RS) and the job layer.
 * A listener calls `instanceStored` only AFTER the instance is durably on disk (fsynced),
 * so a crash after the call never loses an acknowledged instance.
 */
export interface StoredInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  modality: string;
  /** Absolute path of the Part 10 file in the spool. */
  path: string;
  callingAeTitle: string | null;
  receivedVia: 'dimse' | 'stow';
}

export interface IngestSink {
  /**
   * Record one stored instance. Synchronous and cheap (one SQLite insert); storing the same
   * SOP Instance twice is harmless. Series completeness is decided later (quiet period).
   */
  instanceStored(i: StoredInstance): void;
}
