// URL elicitation as the official MCP TypeScript SDK sees it: spawn
// `plangate serve` over stdio, declare (or not) URL-mode elicitation, make
// a plan with plan_change, then call apply_plan without a token. Every
// elicitation/create the server sends is recorded and accepted, as a
// client would after the human agreed to open the page.
//
// Usage: node sdk_elicit.mjs --binary <plangate> --config <plangate.hcl> --stack <name> [--url-mode]
//
// Prints one JSON report on stdout ({"ok": true, ...}); the Go test
// (e2e/elicit_test.go) asserts on it.

import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { serveTransport } from './stdio_serve.mjs';

const { values: opts } = parseArgs({
  options: {
    binary: { type: 'string' },
    config: { type: 'string' },
    stack: { type: 'string' },
    'url-mode': { type: 'boolean', default: false },
  },
});
for (const k of ['binary', 'config', 'stack']) {
  if (!opts[k]) {
    console.error(`usage: node sdk_elicit.mjs --binary <plangate> --config <plangate.hcl> --stack <name> [--url-mode] (missing --${k})`);
    process.exit(2);
  }
}

const report = { ok: false, elicitations: [], clientErrors: [] };

const { transport, stderrTail } = serveTransport(opts.binary, opts.config);

const capabilities = opts['url-mode'] ? { elicitation: { url: {} } } : {};
const client = new Client({ name: 'plangate-e2e-elicit', version: '1.0.0' }, { capabilities });
client.onerror = (err) => report.clientErrors.push(String(err?.message ?? err));
if (opts['url-mode']) {
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    report.elicitations.push(req.params);
    return { action: 'accept' };
  });
}

function text(result) {
  return (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
}

try {
  await client.connect(transport);
  const planned = await client.callTool({ name: 'plan_change', arguments: { stack: opts.stack } }, undefined, { timeout: 120_000 });
  report.planChange = { isError: planned.isError === true, text: text(planned), planId: planned.structuredContent?.plan_id };
  report.afterPlan = report.elicitations.length;
  const applied = await client.callTool({ name: 'apply_plan', arguments: { plan_id: report.planChange.planId } }, undefined, { timeout: 120_000 });
  report.apply = { isError: applied.isError === true, text: text(applied) };
  report.ok = true;
} catch (err) {
  report.error = String(err?.stack ?? err);
  report.stderr = stderrTail();
} finally {
  await client.close().catch(() => {});
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
