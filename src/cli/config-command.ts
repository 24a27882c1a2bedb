import type { Command } from 'commander';
import { defaultConfig, loadConfig, redactConfig, type ConfigOverrides } from '../config/load.ts';
import { parsePortOption } from './serve.ts';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print the configuration: the defaults, or the effective one after validating a file')
    .option('--print-defaults', 'print the full default configuration as JSON')
    .option('-c, --config <file>', 'validate this file and print the effective configuration')
    .option('--data-dir <dir>', 'data directory override')
    .option('--http-port <port>', 'HTTP port override', parsePortOption('http.port'))
    .option('--dimse-port <port>', 'DIMSE port override', parsePortOption('dimse.port'))
    .action((opts: { printDefaults?: boolean; config?: string } & ConfigOverrides) => {
      const config = opts.printDefaults
        ? defaultConfig()
        : loadConfig(opts.config, { dataDir: opts.dataDir, httpPort: opts.httpPort, dimsePort: opts.dimsePort });
      process.stdout.write(JSON.stringify(opts.printDefaults ? config : redactConfig(config), null, 2) + '\n');
    });
}
