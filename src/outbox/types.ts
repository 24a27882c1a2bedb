/**
 * Result of one delivery attempt by a sender (C-STORE, STOW-RS, MLLP).
 *  - delivered: the peer acknowledged (C-STORE success/warning, STOW 200/202 without failures, HL7 ACK AA/CA).
 *  - rejected:  the peer refused for good (C-STORE failure status, STOW 4xx/409 failed SOPs, HL7 AE/AR):
 *               kept on the job, NOT retried endlessly.
 *  - retry:     transient (connection refused, timeout, 5xx, association rejected transiently): retried with backoff.
 */
export interface DeliveryOutcome {
  status: 'delivered' | 'rejected' | 'retry';
  /** Human-readable detail, never containing patient data. */
  detail: string;
  /** HL7 MSA-1 (AA/AE/AR/CA/CE/CR) when the channel is MLLP. */
  ackCode?: string;
}
