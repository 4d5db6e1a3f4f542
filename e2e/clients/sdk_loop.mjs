// The whole plangate loop driven by the official MCP TypeScript SDK, the
// way an agent's client would: spawn `plangate serve` over stdio, list the
// tools, plan with progress, get a human's approval out of band (`plangate
// approve --yes`), apply with progress, read the plan resource, then cancel
// a slow apply part-way and wait for plangate to record it interrupted.
//
// Usage: node sdk_loop.mjs --binary <plangate> --config <plangate.hcl> --key <approver key> [--connect <server address>]
//
// With --connect, the client spawns the stdio relay (`plangate serve
// --connect <address>`) to a running `plangate server`, and the human
// approves through it (`plangate approve --server <address>`).
//
// Prints one JSON report on stdout ({"ok": true, ...}); on failure the
// report has ok=false and the error, and the exit status is 1. The Go test
// (e2e/e2e_test.go) asserts on the report and on Terraform's state.

import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const run = promisify(execFile);

const { values: opts } = parseArgs({
  options: {
    binary: { type: 'string' },
    config: { type: 'string' },
    key: { type: 'string' },
    connect: { type: 'string' },
  },
});
for (const k of ['binary', 'config', 'key']) {
  if (!opts[k]) {
    console.error(`usage: node sdk_loop.mjs --binary <plangate> --config <plangate.hcl> --key <approver key> (missing --${k})`);
    process.exit(2);
  }
}

const t0 = Date.now();
const report = {
  ok: false,
  clientErrors: [],
  logs: [],
  notifications: {},
  timingsMs: {},
};
const mark = (name) => {
  report.timingsMs[name] = Date.now() - t0;
};

function check(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// The environment a client passes a server it spawns: the SDK's safe
// default set plus what the test chose (Terraform's CLI config and the
// terraform to run). Nothing else from ours leaks in.
const serverEnv = { ...getDefaultEnvironment() };
for (const k of ['TF_CLI_CONFIG_FILE', 'CHECKPOINT_DISABLE', 'PLANGATE_TERRAFORM', 'NO_COLOR']) {
  if (process.env[k] !== undefined) serverEnv[k] = process.env[k];
}

const transport = new StdioClientTransport({
  command: opts.binary,
  args: opts.connect ? ['serve', '--connect', opts.connect] : ['serve', '--config', opts.config],
  env: serverEnv,
  stderr: 'pipe',
});
let stderrTail = '';
transport.stderr?.on('data', (chunk) => {
  stderrTail = (stderrTail + chunk.toString()).slice(-8000);
});
// Records the negotiated protocol version (the SDK tells HTTP transports;
// a stdio transport may listen too).
transport.setProtocolVersion = (v) => {
  report.protocolVersion = v;
};

const client = new Client({ name: 'plangate-e2e-sdk', version: '1.0.0' }, { capabilities: {} });
client.onerror = (err) => {
  report.clientErrors.push(String(err?.message ?? err));
};
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  report.logs.push(n.params);
  count(n.method);
});
client.fallbackNotificationHandler = async (n) => {
  count(n.method);
};
function count(method) {
  report.notifications[method] = (report.notifications[method] ?? 0) + 1;
}

function text(result) {
  return (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('');
}

function callRecord(result, progress) {
  return { isError: result.isError === true, structured: result.structuredContent, text: text(result), progress };
}

// approve signs a plan the way a human does from a terminal, and returns
// the token: the last line of stdout.
async function approve(planId) {
  const where = opts.connect ? ['--server', opts.connect] : ['--config', opts.config];
  const { stdout } = await run(opts.binary, ['approve', ...where, '--key', opts.key, '--yes', planId], {
    env: process.env,
    timeout: 30_000,
    maxBuffer: 16 << 20,
  });
  const lines = stdout.trim().split('\n');
  const token = lines[lines.length - 1].trim();
  check(token.startsWith('pgt1.'), `approve printed a token last, got ${JSON.stringify(token.slice(0, 40))}`);
  return token;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Traces what crosses the wire for the request the client cancels: its id
// (from the notifications/cancelled the SDK sends) and every message the
// server sends about it afterwards. The spec says a cancelled request gets
// no response; progress for it should stop.
const cancelTrace = { requestId: null, sentAtMs: null, after: [] };
function traceWire() {
  const send = transport.send.bind(transport);
  transport.send = (msg, o) => {
    if (msg.method === 'notifications/cancelled') {
      cancelTrace.requestId = msg.params.requestId;
      cancelTrace.sentAtMs = Date.now() - t0;
    }
    return send(msg, o);
  };
  const onmessage = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    const id = cancelTrace.requestId;
    if (id !== null && (msg.id === id || msg.params?.progressToken === id)) {
      cancelTrace.after.push({
        ms: Date.now() - t0 - cancelTrace.sentAtMs,
        kind: msg.method ?? (msg.error ? 'error response' : 'result response'),
        progress: msg.params?.progress,
        message: msg.params?.message ?? msg.error?.message ?? msg.result?.structuredContent?.status,
      });
    }
    return onmessage?.(msg, extra);
  };
}

async function main() {
  await client.connect(transport);
  traceWire();
  mark('connected');
  report.server = client.getServerVersion();
  report.instructions = client.getInstructions();
  report.capabilities = client.getServerCapabilities();
  check(report.capabilities?.tools, 'server has the tools capability');
  check(report.capabilities?.resources, 'server has the resources capability');
  if (report.capabilities?.logging) {
    await client.setLoggingLevel('info');
  }

  // 1. Tools: eight, each with every annotation and an output schema.
  const { tools } = await client.listTools();
  report.tools = tools.map((t) => ({
    name: t.name,
    annotations: t.annotations ?? {},
    outputSchema: !!t.outputSchema,
    inputSchema: t.inputSchema,
  }));
  check(tools.length === 8, `8 tools, got ${tools.length}: ${tools.map((t) => t.name).join(', ')}`);
  check(tools.some((t) => t.name === 'apply_plan'), 'apply_plan is listed');
  for (const t of tools) {
    check(t.annotations, `${t.name} has annotations`);
    for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
      check(typeof t.annotations[h] === 'boolean', `${t.name} sets ${h}`);
    }
  }
  mark('listed');

  // 2. Plan on web with a progress token (the SDK sets _meta.progressToken
  // when onprogress is given). The SDK validates structuredContent against
  // the tool's outputSchema.
  const planProgress = [];
  const planned = await client.callTool({ name: 'plan_change', arguments: { stack: 'web' } }, undefined, {
    onprogress: (p) => planProgress.push(p),
    timeout: 90_000,
  });
  report.plan = callRecord(planned, planProgress);
  check(!planned.isError, `plan_change succeeded: ${text(planned)}`);
  const planId = planned.structuredContent.plan_id;
  check(planned.structuredContent.status === 'awaiting_approval', 'plan awaits approval');
  mark('planned');

  const { resources } = await client.listResources();
  report.pendingListed = resources.some((r) => r.uri === `plangate://plans/${planId}`);
  const { resourceTemplates } = await client.listResourceTemplates();
  report.templates = resourceTemplates.map((t) => t.uriTemplate);

  // 3. A human approves out of band; the agent passes the token on.
  const token = await approve(planId);
  report.tokenPrefix = token.slice(0, 5);
  mark('approved');

  // 4. Apply with progress.
  const applyProgress = [];
  const applied = await client.callTool(
    { name: 'apply_plan', arguments: { plan_id: planId, approval_tokens: [token] } },
    undefined,
    { onprogress: (p) => applyProgress.push(p), timeout: 90_000 },
  );
  report.apply = callRecord(applied, applyProgress);
  check(!applied.isError, `apply_plan succeeded: ${text(applied)}`);
  check(applyProgress.length >= 1, 'at least one progress notification during apply');
  mark('applied');

  // 5. The plan resource: the full diff.
  const read = await client.readResource({ uri: `plangate://plans/${planId}` });
  check(read.contents.length === 1, `one content, got ${read.contents.length}`);
  report.resource = { uri: read.contents[0].uri, mimeType: read.contents[0].mimeType, text: read.contents[0].text };
  mark('resource');

  // 5b. A drift check after the apply (the SDK validates its structured
  // content against check_drift's hand-written output schema): no drift.
  const drift = await client.callTool({ name: 'check_drift', arguments: { stack: 'web' } }, undefined, { timeout: 90_000 });
  check(!drift.isError, `check_drift succeeded: ${text(drift)}`);
  check(text(drift).startsWith('No drift in web\n'), `check_drift's first line: ${text(drift).split('\n')[0]}`);
  check(drift.structuredContent && drift.structuredContent.changed === 0 && drift.structuredContent.deleted === 0, 'no drift counted');
  mark('drift_checked');

  // 6. A slow apply, cancelled by the client once one resource is done.
  const slow = await client.callTool({ name: 'plan_change', arguments: { stack: 'slowapply' } }, undefined, { timeout: 90_000 });
  check(!slow.isError, `plan_change slowapply succeeded: ${text(slow)}`);
  const slowId = slow.structuredContent.plan_id;
  report.slow = { planId: slowId, counts: slow.structuredContent.counts, progress: [] };
  const slowToken = await approve(slowId);
  mark('slow_approved');

  const controller = new AbortController();
  let abortedAt = 0;
  const pending = client.callTool(
    { name: 'apply_plan', arguments: { plan_id: slowId, approval_tokens: [slowToken] } },
    undefined,
    {
      signal: controller.signal,
      timeout: 90_000,
      onprogress: (p) => {
        report.slow.progress.push(p);
        if (!abortedAt && p.progress >= 1) {
          abortedAt = Date.now();
          controller.abort('e2e: the user pressed stop');
        }
      },
    },
  );
  try {
    const r = await pending;
    report.slow.completed = callRecord(r, []);
    throw new Error(`the slow apply finished before it was cancelled: ${text(r)}`);
  } catch (err) {
    if (!abortedAt) throw err;
    report.slow.rejection = String(err?.message ?? err);
    report.slow.rejectionCode = err?.code ?? null;
  }
  report.slow.abortedAtMs = abortedAt - t0;
  report.slow.cancel = cancelTrace;
  mark('cancelled');

  // plangate stops Terraform with SIGINT and records the plan interrupted
  // once Terraform has saved the state and released its lock.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { stdout } = await run(opts.binary, ['plans', '--config', opts.config, '--status', 'interrupted'], { env: process.env, timeout: 30_000 });
    if (stdout.includes(slowId)) {
      report.slow.interruptedSeen = true;
      report.slow.interruptedAfterAbortMs = Date.now() - abortedAt;
      break;
    }
    await sleep(200);
  }
  check(report.slow.interruptedSeen, 'plangate plans --status interrupted lists the cancelled plan within 60 s');
  mark('interrupted');

  // The session is still usable after a cancelled request.
  await client.ping();
  report.slow.pingAfterCancel = true;
  const lp = await client.callTool({ name: 'list_plans', arguments: { stack: 'slowapply' } });
  report.slow.listPlans = lp.structuredContent;

  // Give stray messages for the cancelled request (a late response or
  // progress) time to arrive, so that onerror sees them.
  await sleep(300);
  report.ok = true;
}

try {
  await main();
} catch (err) {
  report.ok = false;
  report.error = String(err?.stack ?? err);
  report.serverStderrTail = stderrTail;
} finally {
  try {
    await client.close();
  } catch (err) {
    report.clientErrors.push(`close: ${err?.message ?? err}`);
  }
  mark('closed');
}
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(report.ok ? 0 : 1);
