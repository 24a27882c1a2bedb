import { z } from 'zod';

/**
 * The whole service configuration: one schema, read once at start and passed down.
 * Every key has a default so `bonemet serve` runs with no file ("embedded default":
 * SQLite job store + local spool, results kept in the data dir, no destinations).
 */
const aeTitle = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[ -~]+$/, 'AE titles are 1-16 printable ASCII characters')
  .refine((s) => !s.includes('\\'), 'AE titles may not contain a backslash');

const port = z.number().int().min(0).max(65535);

export const dimseDestinationSchema = z.object({
  aeTitle,
  host: z.string().min(1),
  port: port.min(1),
});

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: port.default(8080),
        /** Max STOW-RS body in bytes. */
        maxStowBytes: z.number().int().positive().default(2 * 1024 * 1024 * 1024),
        /** Max JSON body in bytes (clinical data, overrides). */
        maxJsonBytes: z.number().int().positive().default(64 * 1024),
        /** Bearer token for write endpoints. null = created on first start in <dataDir>/api-token. */
        apiToken: z.string().min(16).nullable().default(null),
      })
      .strict()
      .prefault({}),
    dimse: z
      .object({
        aeTitle: aeTitle.default('BONEMET'),
        port: port.default(11112),
        /** Calling AE titles allowed to store. Empty list = any caller (logged as a warning at start). */
        allowedCallingAeTitles: z.array(aeTitle).default([]),
        maxPduLength: z.number().int().min(4096).default(65536),
      })
      .strict()
      .prefault({}),
    series: z
      .object({
        /** Seconds without a new instance after which a series is complete (Orthanc's StableAge). */
        quietPeriodSeconds: z.number().positive().default(10),
      })
      .strict()
      .prefault({}),
    destinations: z
      .object({
        pacsDimse: dimseDestinationSchema.nullable().default(null),
        /** STOW-RS base URL, e.g. http://pacs:8042/dicom-web (studies is appended). */
        pacsStowUrl: z.string().url().nullable().default(null),
        /** Extra HTTP headers for STOW (e.g. Authorization). Values are never logged. */
        pacsStowHeaders: z.record(z.string(), z.string()).default({}),
        ehrMllp: z
          .object({ host: z.string().min(1), port: port.min(1) })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    hl7: z
      .object({
        sendingApplication: z.string().default('BONEMET'),
        sendingFacility: z.string().default('BONEMET'),
        receivingApplication: z.string().default('EHR'),
        receivingFacility: z.string().default('HOSPITAL'),
      })
      .strict()
      .prefault({}),
    outbox: z
      .object({
        initialRetrySeconds: z.number().positive().default(5),
        maxRetrySeconds: z.number().positive().default(600),
        ackTimeoutSeconds: z.number().positive().default(30),
      })
      .strict()
      .prefault({}),
    analysis: z
      .object({
        huWindows: z
          .object({
            subcutaneousFat: z.tuple([z.number(), z.number()]).default([-190, -30]),
            visceralFat: z.tuple([z.number(), z.number()]).default([-150, -50]),
            muscle: z.tuple([z.number(), z.number()]).default([-29, 150]),
          })
          .strict()
          .prefault({}),
        /** Minimum T11 confidence (0..1) for an automatic measurement. */
        minT11Confidence: z.number().min(0).max(1).default(0.6),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().default('models/shipped'),
      })
      .strict()
      .prefault({}),
    institutionName: z.string().default(''),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .strict();

export type BonemetConfig = z.infer<typeof configSchema>;
export type DimseDestination = z.infer<typeof dimseDestinationSchema>;
