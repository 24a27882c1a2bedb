import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { configSchema, type BonemetConfig } from './schema.ts';

/** The package root: relative model.dir values point into the installed package (models/shipped), not the cwd. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A configuration problem, with a message naming the offending key (printed as-is by the CLI). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Command-line overrides applied on top of the file (they win). */
export interface ConfigOverrides {
  dataDir?: string;
  httpPort?: number;
  dimsePort?: number;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  switch (issue.code) {
    case 'invalid_type':
      return `${key}: expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `${key === '(top level)' ? '' : key + '.'}${issue.keys.join(', ')}: unknown key`;
    default:
      return `${key}: ${issue.message}`;
  }
}

/**
 * Validate a raw (parsed JSON) config object. Throws ConfigError listing every problem as
 * "config error: <dotted.key>: <what is wrong>". Relative dataDir is resolved against `baseDir`.
 */
export function parseConfig(raw: unknown, overrides: ConfigOverrides = {}, baseDir = process.cwd()): BonemetConfig {
  const merged = structuredClone((raw ?? {}) as Record<string, unknown>);
  if (typeof merged !== 'object' || Array.isArray(merged)) throw new ConfigError('config error: (top level): expected an object');
  const section = (name: string): Record<string, unknown> => {
    const existing = merged[name];
    if (existing !== undefined && (typeof existing !== 'object' || existing === null)) return {}; // zod reports it below
    merged[name] = existing ?? {};
    return merged[name] as Record<string, unknown>;
  };
  // A --data-dir given on the command line is relative to where the command runs, not to the file.
  if (overrides.dataDir !== undefined) merged.dataDir = path.resolve(overrides.dataDir);
  if (overrides.httpPort !== undefined) section('http').port = overrides.httpPort;
  if (overrides.dimsePort !== undefined) section('dimse').port = overrides.dimsePort;

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `config error: ${describeIssue(i)}`).join('\n'));
  }
  const config = result.data;
  config.dataDir = path.resolve(baseDir, config.dataDir);
  config.model.dir = path.resolve(PACKAGE_ROOT, config.model.dir);
  return config;
}

/** Read and validate a JSON config file (or only the defaults when `file` is undefined). */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): BonemetConfig {
  if (file === undefined) return parseConfig({}, overrides);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config error: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config error: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('config error: (top level): expected an object');
  }
  return parseConfig(raw, overrides, path.dirname(path.resolve(file)));
}

/** The full default configuration (what `bonemet config --print-defaults` prints). */
export function defaultConfig(): BonemetConfig {
  return configSchema.parse({});
}

/** A copy safe to print or log: secrets replaced. */
export function redactConfig(config: BonemetConfig): BonemetConfig {
  const copy = structuredClone(config);
  if (copy.http.apiToken !== null) copy.http.apiToken = '<set>';
  copy.destinations.pacsStowHeaders = Object.fromEntries(
    Object.keys(copy.destinations.pacsStowHeaders).map((k) => [k, '<set>']),
  );
  return copy;
}
