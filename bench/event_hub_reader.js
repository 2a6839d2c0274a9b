// One reader of the emulator's Event Hub-compatible endpoint, for amqp-bench (bench/amqp_bench.cpp), which starts it
// with node and NODE_PATH pointing at tests/compat/node_modules. Figures only: it asserts nothing.
//
// argv[2] is a JSON object:
//   mode        'sdk' (EventHubConsumerClient from @azure/event-hubs, unmodified) or 'rhea' (a raw rhea receiver per
//               partition with a large credit window: what the endpoint delivers without the SDK's work)
//   start       'earliest' or 'latest'
//   expect      events to receive before reporting done (0: until stdin says "stop")
//   connectionString  (sdk) the Event Hub-compatible connection string
//   host, port, tls, ca, policy, key, hub, partitions  (rhea) where and how to connect
//   creditWindow, settled  (rhea) credit per partition; events sent settled (nothing accepted back) or not
//   maxBatchSize, maxWaitTimeInSeconds, prefetchCount  (sdk) subscribe options
//   latency     the body is JSON with t = the publisher's CLOCK_MONOTONIC in ns: record receive time minus t
//
// Protocol, one JSON object a line on stdout: {"loaded":true}, then it waits for "go" on stdin, subscribes and
// prints {"ready":true} once every partition's link is attached (sdk: its first, empty batch has come), and
// {"done":...} with the figures when `expect` events have come or stdin says "stop". It exits after done, or when
// stdin closes (the driver died).
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');

const o = JSON.parse(process.argv[2]);
const now = () => process.hrtime.bigint();  // CLOCK_MONOTONIC, as the driver's steady_clock

function emit(obj) { process.stdout.write(`${JSON.stringify(obj)}\n`); }

const stats = {
  events: 0,
  goAt: 0n,
  firstAt: 0n,
  lastAt: 0n,
  cpuAtGo: null,
  cpuAtLast: null,
  latenciesMs: [],
  // Per partition: sequence numbers must follow one another, with no gap, repeat or step back.
  partitions: {},
  badSequence: 0,
  errors: [],
};

function onEvent(partitionId, sequenceNumber, body, at) {
  if (stats.events === 0) stats.firstAt = at;
  stats.events += 1;
  stats.lastAt = at;
  let p = stats.partitions[partitionId];
  if (!p) {
    p = { first: sequenceNumber, last: sequenceNumber - 1, count: 0 };
    stats.partitions[partitionId] = p;
  }
  if (sequenceNumber !== p.last + 1) stats.badSequence += 1;
  p.last = sequenceNumber;
  p.count += 1;
  if (o.latency) {
    const parsed = typeof body === 'object' && body !== null && !Buffer.isBuffer(body) ? body
      : JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body));
    stats.latenciesMs.push(Number(at - BigInt(parsed.t)) / 1e6);
  }
  if (o.expect > 0 && stats.events === o.expect) finish();
}

let finished = false;
let closeReaders = async () => {};
function finish() {
  if (finished) return;
  finished = true;
  stats.cpuAtLast = process.cpuUsage(stats.cpuAtGo);
  const seconds = Number(stats.lastAt - stats.goAt) / 1e9;
  emit({
    done: true,
    events: stats.events,
    goAt: String(stats.goAt),
    firstAt: String(stats.firstAt),
    lastAt: String(stats.lastAt),
    seconds,
    cpuSeconds: (stats.cpuAtLast.user + stats.cpuAtLast.system) / 1e6,
    partitions: stats.partitions,
    badSequence: stats.badSequence,
    latenciesMs: stats.latenciesMs,
    errors: stats.errors.slice(0, 5),
  });
  // Let the line go out before closing; exit regardless of what the client does on close.
  const timer = setTimeout(() => process.exit(0), 5000);
  closeReaders().catch(() => {}).finally(() => { clearTimeout(timer); process.exit(0); });
}

function startSdk() {
  const { EventHubConsumerClient, earliestEventPosition, latestEventPosition } = require('@azure/event-hubs');
  const client = new EventHubConsumerClient(EventHubConsumerClient.defaultConsumerGroupName, o.connectionString,
    { retryOptions: { maxRetries: 2, timeoutInMs: 30000 } });
  const ready = new Set();
  let partitionCount = Infinity;
  client.getPartitionIds().then((ids) => { partitionCount = ids.length; }).catch((e) => stats.errors.push(String(e)));
  let saidReady = false;
  const subscribeOptions = {
    startPosition: o.start === 'earliest' ? earliestEventPosition : latestEventPosition,
    maxBatchSize: o.maxBatchSize ?? 1000,
    maxWaitTimeInSeconds: o.maxWaitTimeInSeconds ?? 1,
  };
  if (o.prefetchCount) subscribeOptions.prefetchCount = o.prefetchCount;
  const subscription = client.subscribe({
    async processEvents(events, context) {
      const at = now();
      for (const e of events) onEvent(context.partitionId, e.sequenceNumber, e.body, at);
      ready.add(context.partitionId);
      if (!saidReady && ready.size >= partitionCount) {
        saidReady = true;
        emit({ ready: true });
      }
    },
    async processError(err) { stats.errors.push(`${err.name}: ${err.message}`); },
  }, subscribeOptions);
  closeReaders = async () => { await subscription.close(); await client.close(); };
}

function startRhea() {
  const rhea = require('rhea');
  const container = rhea.create_container();
  const connection = container.connect({
    host: o.host, port: o.port, transport: o.tls ? 'tls' : 'tcp', ca: o.tls ? fs.readFileSync(o.ca) : undefined,
    servername: 'localhost', username: o.policy, password: o.key, reconnect: false,
  });
  connection.on('connection_error', (c) => stats.errors.push(String(c.connection.error && c.connection.error.condition)));
  connection.on('disconnected', (c) => { if (!finished) stats.errors.push(`disconnected: ${c.error}`); });
  const filter = o.start === 'earliest' ? "amqp.annotation.x-opt-offset > '-1'" : "amqp.annotation.x-opt-offset > '@latest'";
  let open = 0;
  for (let p = 0; p < o.partitions; p++) {
    const receiver = connection.open_receiver({
      source: {
        address: `${o.hub}/ConsumerGroups/$Default/Partitions/${p}`,
        filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(filter, 0x468C00000004) },
      },
      credit_window: o.creditWindow ?? 10000,
      // settled: the hub sends every event settled (snd-settle-mode settled), so nothing is accepted back.
      ...(o.settled ? { snd_settle_mode: 1, autoaccept: false } : { autoaccept: true }),
    });
    receiver.on('receiver_open', () => { if (++open === o.partitions) emit({ ready: true }); });
    receiver.on('receiver_error', (c) => stats.errors.push(String(c.receiver.error && c.receiver.error.condition)));
    receiver.on('message', (c) => {
      const m = c.message;
      const seq = Number(m.message_annotations['x-opt-sequence-number']);
      const body = m.body && m.body.typecode === 117 ? m.body.content : m.body;  // data section
      if (o.settled) c.delivery.update(true);  // frees its place in rhea's session window; sends nothing
      onEvent(String(p), seq, body, now());
    });
  }
  closeReaders = async () => { connection.close(); };
}

// Progress in the reader's log (stderr), once a second: where a stalled read stopped.
let logged = -1;
setInterval(() => {
  if (stats.events === logged) return;
  logged = stats.events;
  process.stderr.write(`${new Date().toISOString()} ${stats.events} events ${JSON.stringify(stats.partitions)}\n`);
}, 1000).unref();

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line === 'go') {
    stats.goAt = now();
    stats.cpuAtGo = process.cpuUsage();
    (o.mode === 'rhea' ? startRhea : startSdk)();
  } else if (line === 'stop') {
    finish();
  }
});
input.on('close', () => { if (!finished) process.exit(1); });
emit({ loaded: true });
