// The stdio transport to `plangate serve` the e2e scripts share: the
// SDK's safe default environment plus what the Go test chose (Terraform's
// CLI config, the terraform to run, the state home, the sandbox mode), and
// the tail of plangate's stderr for a report.

import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';

const passed = ['TF_CLI_CONFIG_FILE', 'CHECKPOINT_DISABLE', 'PLANGATE_TERRAFORM', 'NO_COLOR', 'XDG_STATE_HOME', 'PLANGATE_SANDBOX'];

export function serveTransport(binary, config) {
  const env = { ...getDefaultEnvironment() };
  for (const k of passed) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const transport = new StdioClientTransport({ command: binary, args: ['serve', '--config', config], env, stderr: 'pipe' });
  let tail = '';
  transport.stderr?.on('data', (chunk) => {
    tail = (tail + chunk.toString()).slice(-8000);
  });
  return { transport, stderrTail: () => tail };
}
