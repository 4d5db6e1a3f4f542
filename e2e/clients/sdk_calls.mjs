// Tool calls made through the official MCP TypeScript SDK over stdio, the
// way an agent's client makes them: spawn `plangate serve`, call each tool
// in order in one session, report every result.
//
// Usage: node sdk_calls.mjs --binary <plangate> --config <plangate.hcl> --calls '<json>'
//
// --calls is a JSON array of {"name": "<tool>", "arguments": {...}}. A
// call whose arguments hold {"$planId": N} for plan_id gets the plan_id
// that call N (0-based) returned, so a plan and its get_plan fit in one run.
//
// Prints one JSON report on stdout: {"ok": true, "results": [{"isError",
// "structured", "text"}, ...]}. A tool-level error is a result, not a
// failure: the Go test asserts on it. ok=false (exit 1) means the session
// itself failed.

import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { serveTransport } from './stdio_serve.mjs';

const { values: opts } = parseArgs({
  options: {
    binary: { type: 'string' },
    config: { type: 'string' },
    calls: { type: 'string' },
  },
});
for (const k of ['binary', 'config', 'calls']) {
  if (!opts[k]) {
    console.error(`usage: node sdk_calls.mjs --binary <plangate> --config <plangate.hcl> --calls '<json>' (missing --${k})`);
    process.exit(2);
  }
}

const { transport, stderrTail } = serveTransport(opts.binary, opts.config);

const client = new Client({ name: 'plangate-e2e-browser', version: '1.0.0' }, { capabilities: {} });
const report = { ok: false, results: [] };

function text(result) {
  return (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('');
}

try {
  const calls = JSON.parse(opts.calls);
  await client.connect(transport);
  for (const c of calls) {
    const args = { ...c.arguments };
    if (args.plan_id && typeof args.plan_id === 'object') {
      args.plan_id = report.results[args.plan_id.$planId]?.structured?.plan_id;
    }
    const r = await client.callTool({ name: c.name, arguments: args }, undefined, { timeout: 90_000 });
    report.results.push({ isError: r.isError === true, structured: r.structuredContent ?? null, text: text(r) });
  }
  report.ok = true;
} catch (err) {
  report.error = String(err?.stack ?? err);
  report.serverStderrTail = stderrTail();
} finally {
  await client.close().catch(() => {});
}
// Exit once the report is written: a pipe takes a large one in pieces.
process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(report.ok ? 0 : 1));
