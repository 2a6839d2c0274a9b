// The official Event Hubs client (@azure/event-hubs 6.0.4, unmodified) reading device-to-cloud telemetry from the
// emulator's Event Hub-compatible endpoint (spec §6), while the official device SDK (azure-iot-device over MQTT)
// sends it. Each test starts its own emulator, so sequence numbers and partition contents are its own.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { EventHubConsumerClient, earliestEventPosition, latestEventPosition } = require('@azure/event-hubs');
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Registry } = require('azure-iothub');
const { startEmulator, hubConnectionString, eventHubConnectionString, policyKeys, putJson, deleteJson } =
  require('./helpers/emulator');
const { waitUntil, within } = require('./helpers/wait');

// @azure/event-hubs 6.0.4 renews a receiver's CBS token on a 45-minute setTimeout that it does not stop when a
// detached receiver link is re-opened (partitionReceiver.js `connect` overwrites state.authLoop). Such a timer keeps
// this test process alive after the last test, and node --test cancels the file. Timers of 10 minutes or more are
// unref'd: none of them can fire during a test, and the SDK's own code is left as it is.
const realSetTimeout = global.setTimeout;
global.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
  const timer = realSetTimeout(fn, ms, ...args);
  if (ms >= 10 * 60 * 1000 && timer && typeof timer.unref === 'function') timer.unref();
  return timer;
};

const kGroup = EventHubConsumerClient.defaultConsumerGroupName;  // '$Default'
// The bound on every wait for the endpoint: generous for a loaded 2-core machine, and short enough that a failing
// test leaves time for the others (node --test applies --test-timeout, 60 s under ctest, to the whole file).
const kWait = 10000;
// A receiver with nothing to deliver hands the handler an empty batch after this long: the sign that it is attached
// and idle. The SDK takes fractions (it waits maxWaitTimeInSeconds * 1000 ms).
const kIdleSeconds = 0.25;
// Fail fast rather than retry with the SDK's default 30 s delays; timeoutInMs bounds each AMQP operation.
const kRetry = { maxRetries: 0, timeoutInMs: 10000 };

// Runs fn with a fresh emulator (free MQTT and AMQP ports) and closes every client it opened, then the emulator.
async function withHub(fn) {
  const hub = await startEmulator({ mqttPort: 0 });
  const clients = [];
  hub.consumer = (options = {}) => {
    const { group = kGroup, transport = 'tls', policy, key, ...clientOptions } = options;
    const client = new EventHubConsumerClient(group, eventHubConnectionString(hub, { transport, policy, key }),
      { retryOptions: kRetry, ...clientOptions });
    clients.push(client);
    return client;
  };
  hub.track = (client) => { clients.push(client); return client; };
  try {
    await fn(hub);
  } catch (err) {
    err.message += `\n--- emulator log ---\n${hub.log()}`;
    throw err;
  } finally {
    await Promise.allSettled(clients.map((c) => within('an EventHubConsumerClient to close', c.close(), 15000)));
    await hub.stop();
  }
}

// A new device identity: its id, generationId and connection string (MQTT on the hub's free port).
async function createDevice(hub, id) {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const device = (await registry.create({ deviceId: id })).responseBody;
  return {
    id,
    generationId: device.generationId,
    connectionString: `HostName=localhost:${hub.mqttPort};DeviceId=${id};SharedAccessKey=${device.authentication.symmetricKey.primaryKey}`,
  };
}

// A telemetry message as a device application builds one.
function telemetry(body, { messageId, correlationId, contentType = 'application/json', contentEncoding = 'utf-8',
  properties = {} } = {}) {
  const message = new Message(typeof body === 'string' ? body : JSON.stringify(body));
  if (messageId !== undefined) message.messageId = messageId;
  if (correlationId !== undefined) message.correlationId = correlationId;
  if (contentType) message.contentType = contentType;
  if (contentEncoding) message.contentEncoding = contentEncoding;
  for (const [k, v] of Object.entries(properties)) message.properties.add(k, v);
  return message;
}

// Opens the device over MQTT, sends the messages in order (each resolves on PUBACK, i.e. once stored), closes it.
// Between two messages, `between(i)` may run (it may be async).
async function send(device, messages, between = async () => {}) {
  const client = Client.fromConnectionString(device.connectionString, Mqtt);
  await client.open();
  try {
    for (let i = 0; i < messages.length; i++) {
      if (i > 0) await between(i);
      await client.sendEvent(messages[i]);
    }
  } finally {
    await client.close();
  }
}

// Subscribes client (to one partition, or to all when partitionId is undefined) and records what the SDK hands over:
// events (each with its partitionId), errors, close reasons, the partitions whose receiver delivered a batch (an empty
// batch once kIdleSeconds pass with nothing: proof the link is attached), and how many events there were
// when an empty batch last came (the reader was idle with everything there was).
function reader(client, { partitionId, ...options } = {}) {
  const r = { events: [], errors: [], closes: [], ready: new Set(), idleWith: -1 };
  const handlers = {
    async processEvents(events, context) {
      for (const event of events) r.events.push({ ...event, partitionId: context.partitionId });
      if (events.length === 0) r.idleWith = r.events.length;
      r.ready.add(context.partitionId);
    },
    async processError(err) { r.errors.push(err); },
    async processClose(reason) { r.closes.push(reason); },
  };
  const subscribeOptions = { maxBatchSize: 100, maxWaitTimeInSeconds: kIdleSeconds, ...options };
  r.subscription = partitionId === undefined ? client.subscribe(handlers, subscribeOptions)
    : client.subscribe(partitionId, handlers, subscribeOptions);
  return r;
}

function describe(err) {
  return `${err && err.name} code=${err && err.code}: ${err && err.message}`;
}

// Waits until the reader has at least n events and then idled (nothing more came); fails at once on an error.
async function eventsOf(r, n, what) {
  await waitUntil(what, () => r.errors.length > 0 || (r.events.length >= n && r.idleWith === r.events.length),
    { timeout: kWait });
  if (r.errors.length) throw new Error(`${what}: the SDK reported ${describe(r.errors[0])}`);
  return r.events;
}

// Waits until the receivers of the given partitions are attached (each delivered a batch, empty or not).
async function attached(r, partitionIds, what) {
  await waitUntil(what, () => r.errors.length > 0 || partitionIds.every((p) => r.ready.has(p)), { timeout: kWait });
  if (r.errors.length) throw new Error(`${what}: the SDK reported ${describe(r.errors[0])}`);
}

// Waits for the reader's first error and returns it.
async function firstError(r, what) {
  return waitUntil(what, () => r.errors[0], { timeout: kWait });
}

// Reads a partition from startPosition until idle; closes the subscription; resolves to the events.
async function read(client, partitionId, startPosition, n, what) {
  const r = reader(client, { partitionId, startPosition });
  try {
    return await eventsOf(r, n, what);
  } finally {
    await r.subscription.close();
  }
}

// Sends messages from a new device, finds the partition they landed in (reading all partitions from earliest),
// and resolves to { device, partitionId, events } with the events in the order the device sent them.
async function sendAndLocate(hub, client, deviceId, messages, between) {
  const device = await createDevice(hub, deviceId);
  await send(device, messages, between);
  const r = reader(client, { startPosition: earliestEventPosition });
  try {
    const events = await eventsOf(r, messages.length, `the ${messages.length} events of ${deviceId}`);
    const partitions = new Set(events.map((e) => e.partitionId));
    assert.equal(partitions.size, 1, `one device's events are in one partition, got ${[...partitions]}`);
    return { device, partitionId: events[0].partitionId, events };
  } finally {
    await r.subscription.close();
  }
}

const ids = (events) => events.map((e) => e.messageId);

test('getEventHubProperties and getPartitionProperties, before and after the device sends', async () => {
  await withHub(async (hub) => {
    const client = hub.consumer();
    const hubProps = await client.getEventHubProperties();
    assert.equal(hubProps.name, 'emulator');
    assert.deepEqual(hubProps.partitionIds, ['0', '1', '2', '3']);
    assert.ok(hubProps.createdOn instanceof Date && !Number.isNaN(hubProps.createdOn.getTime()),
      `createdOn is a date: ${hubProps.createdOn}`);
    assert.ok(hubProps.createdOn.getTime() <= Date.now());
    assert.deepEqual(await client.getPartitionIds(), ['0', '1', '2', '3']);

    for (const id of hubProps.partitionIds) {
      const p = await client.getPartitionProperties(id);
      assert.equal(p.eventHubName, 'emulator');
      assert.equal(p.partitionId, id);
      assert.equal(p.isEmpty, true, `partition ${id} of a new hub is empty`);
      assert.equal(typeof p.beginningSequenceNumber, 'number');
      assert.equal(typeof p.lastEnqueuedSequenceNumber, 'number');
      assert.equal(typeof p.lastEnqueuedOffset, 'string');
      assert.ok(p.lastEnqueuedOnUtc instanceof Date);
    }

    const before = Date.now();
    const { partitionId, events } = await sendAndLocate(hub, client, 'eh-props',
      [0, 1, 2].map((i) => telemetry({ i }, { messageId: `m-${i}` })));
    const after = Date.now();
    for (const id of hubProps.partitionIds) {
      const p = await client.getPartitionProperties(id);
      if (id !== partitionId) {
        assert.equal(p.isEmpty, true, `partition ${id} stays empty: the device's events are in ${partitionId}`);
        continue;
      }
      assert.equal(p.isEmpty, false);
      assert.equal(p.beginningSequenceNumber, events[0].sequenceNumber);
      assert.equal(p.lastEnqueuedSequenceNumber, events[2].sequenceNumber);
      assert.equal(p.lastEnqueuedSequenceNumber - p.beginningSequenceNumber, 2);
      assert.equal(typeof p.lastEnqueuedOffset, 'string');
      assert.equal(p.lastEnqueuedOffset, events[2].offset);
      assert.equal(p.lastEnqueuedOnUtc.getTime(), events[2].enqueuedTimeUtc.getTime());
      assert.ok(p.lastEnqueuedOnUtc.getTime() >= before - 1000 && p.lastEnqueuedOnUtc.getTime() <= after + 1000,
        `lastEnqueuedOnUtc ${p.lastEnqueuedOnUtc.toISOString()} is when the device sent`);
    }
  });
});

test('every start position: earliest, latest, sequenceNumber and offset (inclusive and exclusive), enqueuedOn', async () => {
  await withHub(async (hub) => {
    const client = hub.consumer();
    // m-2 and m-3 are sent once the clock has moved past m-1's PUBACK, so their enqueued time is later than m-1's.
    let acked = 0;
    const { device, partitionId, events } = await sendAndLocate(hub, client, 'eh-positions',
      [0, 1, 2, 3].map((i) => telemetry({ i }, { messageId: `m-${i}` })),
      async (i) => {
        if (i === 2) {
          acked = Date.now();
          await waitUntil('the clock to move past m-1', () => Date.now() > acked + 1, { interval: 1 });
        }
      });
    assert.deepEqual(ids(events), ['m-0', 'm-1', 'm-2', 'm-3']);
    events.forEach((e, i) => {
      assert.equal(typeof e.sequenceNumber, 'number');
      assert.equal(typeof e.offset, 'string');
      if (i > 0) {
        assert.equal(e.sequenceNumber, events[i - 1].sequenceNumber + 1, 'sequence numbers count up by one');
        assert.ok(BigInt(e.offset) > BigInt(events[i - 1].offset), `offsets grow: ${events[i - 1].offset} < ${e.offset}`);
        assert.ok(e.enqueuedTimeUtc >= events[i - 1].enqueuedTimeUtc);
      }
    });
    assert.ok(events[2].enqueuedTimeUtc > events[1].enqueuedTimeUtc);

    const m1 = events[1];
    const cases = [
      ['earliest', earliestEventPosition, ['m-0', 'm-1', 'm-2', 'm-3']],
      ['sequenceNumber inclusive', { sequenceNumber: m1.sequenceNumber, isInclusive: true }, ['m-1', 'm-2', 'm-3']],
      ['sequenceNumber exclusive', { sequenceNumber: m1.sequenceNumber }, ['m-2', 'm-3']],
      ['offset inclusive', { offset: m1.offset, isInclusive: true }, ['m-1', 'm-2', 'm-3']],
      ['offset exclusive', { offset: m1.offset }, ['m-2', 'm-3']],
      ['enqueuedOn (after that instant)', { enqueuedOn: m1.enqueuedTimeUtc }, ['m-2', 'm-3']],
      ['enqueuedOn before everything', { enqueuedOn: new Date(events[0].enqueuedTimeUtc.getTime() - 60000) },
        ['m-0', 'm-1', 'm-2', 'm-3']],
      ['sequenceNumber of the last event, exclusive', { sequenceNumber: events[3].sequenceNumber }, []],
    ];
    for (const [name, startPosition, expected] of cases) {
      const got = await read(client, partitionId, startPosition, expected.length, `start position ${name}`);
      assert.deepEqual(ids(got), expected, `start position ${name}`);
    }

    // The map form, on every partition at once: the device's partition from its m-2, the others from earliest.
    const byMap = reader(client, { startPosition: { [partitionId]: { sequenceNumber: events[2].sequenceNumber,
      isInclusive: true } } });
    try {
      assert.deepEqual(ids(await eventsOf(byMap, 2, 'the events from m-2 on by a per-partition map')), ['m-2', 'm-3']);
    } finally {
      await byMap.subscription.close();
    }

    // latest: only what is sent once the receiver is attached.
    const latest = reader(client, { partitionId, startPosition: latestEventPosition });
    try {
      await attached(latest, [partitionId], 'the receiver at latest to attach');
      assert.deepEqual(latest.events, [], 'latest delivers none of the events already there');
      await send(device, [telemetry({ i: 4 }, { messageId: 'm-4' })]);
      const got = await eventsOf(latest, 1, 'the event sent after the receiver at latest attached');
      assert.deepEqual(ids(got), ['m-4']);
      assert.equal(got[0].sequenceNumber, events[3].sequenceNumber + 1);
    } finally {
      await latest.subscription.close();
    }
  });
});

test('live delivery: a reader on every partition at latest gets each event as the device sends it', async () => {
  await withHub(async (hub) => {
    const client = hub.consumer();
    const device = await createDevice(hub, 'eh-live');
    const partitionIds = await client.getPartitionIds();
    // maxBatchSize 1: the SDK hands over each event as it comes instead of filling a batch.
    const live = reader(client, { startPosition: latestEventPosition, maxBatchSize: 1 });
    await attached(live, partitionIds, 'receivers on all 4 partitions to attach');
    const deviceClient = Client.fromConnectionString(device.connectionString, Mqtt);
    await deviceClient.open();
    try {
      for (let i = 0; i < 3; i++) {
        await deviceClient.sendEvent(telemetry({ i }, { messageId: `live-${i}` }));  // stored once it resolves
        const acked = Date.now();
        await waitUntil(`live-${i} to reach the reader`, () => live.errors.length || live.events.length > i,
          { timeout: kWait, interval: 1 });
        assert.deepEqual(live.errors, []);
        const latency = Date.now() - acked;
        assert.ok(latency < 1000, `live-${i} arrived ${latency} ms after the device's PUBACK`);
      }
    } finally {
      await deviceClient.close();
    }
    assert.deepEqual(ids(live.events), ['live-0', 'live-1', 'live-2']);
  });
});

test('what each event carries: body, application properties, IoT Hub system properties, ids, positions', async () => {
  await withHub(async (hub) => {
    const client = hub.consumer();
    const before = Date.now();
    const { device, events } = await sendAndLocate(hub, client, 'eh-carries', [
      telemetry({ deviceId: 'eh-carries', windSpeed: 10.5 }, { messageId: 'msg-1', correlationId: 'corr 1',
        properties: { temperatureAlert: 'true', 'a&b': 'x=y/z' } }),
      telemetry('not json', { contentType: 'text/plain', contentEncoding: 'us-ascii' }),
    ]);
    const after = Date.now();
    const [json, text] = events;

    assert.deepEqual(json.body, { deviceId: 'eh-carries', windSpeed: 10.5 }, 'a JSON body is parsed by the SDK');
    assert.equal(json.getRawAmqpMessage().bodyType, 'data', 'the body is an AMQP data section, as IoT Hub sends it');
    assert.deepEqual(json.properties, { temperatureAlert: 'true', 'a&b': 'x=y/z' });
    assert.equal(json.messageId, 'msg-1');
    assert.equal(json.correlationId, 'corr 1');
    assert.equal(json.contentType, 'application/json');
    assert.equal(json.systemProperties.contentEncoding, 'utf-8');

    const sys = json.systemProperties;
    assert.equal(sys['iothub-connection-device-id'], 'eh-carries');
    assert.deepEqual(JSON.parse(sys['iothub-connection-auth-method']),
      { scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
    assert.equal(typeof sys['iothub-connection-auth-generation-id'], 'string');
    assert.equal(sys['iothub-connection-auth-generation-id'], device.generationId);
    assert.equal(sys['iothub-message-source'], 'Telemetry');
    assert.equal(typeof sys['iothub-enqueuedtime'], 'number', 'an AMQP timestamp (the SDK gives dates as ms)');
    assert.ok(Math.abs(sys['iothub-enqueuedtime'] - json.enqueuedTimeUtc.getTime()) < 1000);
    for (const key of Object.keys(sys)) assert.ok(!key.startsWith('x-opt-'), `${key} is read into its own field`);

    assert.equal(typeof json.sequenceNumber, 'number');
    assert.equal(typeof json.offset, 'string');
    assert.ok(json.enqueuedTimeUtc instanceof Date);
    assert.ok(json.enqueuedTimeUtc.getTime() >= before - 1000 && json.enqueuedTimeUtc.getTime() <= after + 1000,
      `enqueuedTimeUtc ${json.enqueuedTimeUtc.toISOString()} is when the device sent`);
    assert.equal(json.partitionKey, undefined, 'IoT Hub sets no x-opt-partition-key');

    assert.ok(Buffer.isBuffer(text.body), 'a body that is not JSON comes as the bytes sent');
    assert.equal(text.body.toString('utf8'), 'not json');
    assert.equal(text.contentType, 'text/plain');
    assert.equal(text.systemProperties.contentEncoding, 'us-ascii');
    assert.equal(text.messageId, undefined, 'no message-id when the device set none');
    assert.equal(text.correlationId, undefined);
    assert.equal(text.systemProperties['iothub-connection-device-id'], 'eh-carries');
    assert.equal(text.sequenceNumber, json.sequenceNumber + 1);
  });
});

test('transports: AMQP over TLS, plain AMQP (UseDevelopmentEmulator=true) and AMQP over WebSockets on 443', async () => {
  await withHub(async (hub) => {
    const device = await createDevice(hub, 'eh-transports');
    await send(device, [0, 1].map((i) => telemetry({ i }, { messageId: `t-${i}` })));
    const transports = {
      tls: hub.consumer({ transport: 'tls' }),
      plain: hub.consumer({ transport: 'plain' }),
      // The SDK's WebSocket URL is wss://{host}:{port ?? 443}/$servicebus/websocket, sub-protocol AMQPWSB10.
      ws: hub.consumer({ transport: 'ws', webSocketOptions: { webSocket: WebSocket,
        webSocketConstructorOptions: { handshakeTimeout: 10000 } } }),
    };
    for (const [name, client] of Object.entries(transports)) {
      const props = await client.getEventHubProperties();
      assert.equal(props.name, 'emulator', `${name}: getEventHubProperties`);
      const r = reader(client, { startPosition: earliestEventPosition });
      try {
        const events = await eventsOf(r, 2, `${name}: the 2 events from earliest`);
        assert.deepEqual(ids(events), ['t-0', 't-1'], name);
        assert.equal(events[0].systemProperties['iothub-connection-device-id'], 'eh-transports', name);
      } finally {
        await r.subscription.close();
      }
    }
  });
});

test('a wrong key, an unknown policy or a policy without ServiceConnect: UnauthorizedError', async () => {
  await withHub(async (hub) => {
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    // The SDK answers a put-token with status-code 401 by core-amqp's ConditionStatusMapper[401] =
    // amqp:unauthorized-access, i.e. a MessagingError with code UnauthorizedError.
    const isUnauthorized = (what) => (err) => {
      assert.equal(err.code, 'UnauthorizedError', `${what}: ${describe(err)}`);
      return true;
    };
    for (const [what, options] of [
      ['the service policy with a wrong key', { key: wrongKey }],
      ['an unknown policy', { policy: 'nobody', key: policyKeys.service }],
      ['the device policy (DeviceConnect only)', { policy: 'device' }],
      ['the registryRead policy', { policy: 'registryRead' }],
    ]) {
      for (const transport of ['tls', 'plain']) {
        const client = hub.consumer({ transport, ...options });
        await assert.rejects(client.getEventHubProperties(), isUnauthorized(`${what} over ${transport}`));
      }
    }
    // A receiver is refused the same way; the SDK reports it to processError.
    const refused = reader(hub.consumer({ key: wrongKey }), { partitionId: '0', startPosition: earliestEventPosition });
    const err = await firstError(refused, 'the receiver with a wrong key to be refused');
    assert.equal(err.code, 'UnauthorizedError', describe(err));
    assert.deepEqual(refused.events, []);
    // iothubowner has ServiceConnect too.
    assert.equal((await hub.consumer({ policy: 'iothubowner' }).getEventHubProperties()).name, 'emulator');
  });
});

test('an unknown consumer group is refused with amqp:not-found (MessagingEntityNotFoundError)', async () => {
  await withHub(async (hub) => {
    const r = reader(hub.consumer({ group: 'no-such-group' }), { partitionId: '0', startPosition: earliestEventPosition });
    const err = await firstError(r, 'the receiver on an unknown consumer group to be refused');
    // core-amqp maps amqp:not-found to ServiceCommunicationError, and to MessagingEntityNotFoundError when the
    // description reads "The messaging entity ... could not be found" (as Event Hubs words it).
    assert.equal(err.code, 'MessagingEntityNotFoundError', describe(err));
    assert.equal(err.retryable, false);
    assert.deepEqual(r.events, []);
    // $Default always exists; its name is case-insensitive in Event Hubs.
    for (const group of ['$Default', '$default']) {
      const ok = reader(hub.consumer({ group }), { partitionId: '0', startPosition: earliestEventPosition });
      await attached(ok, ['0'], `a receiver on ${group} to attach`);
    }
  });
});

test('a consumer group created with PUT /emulator/consumerGroups is read like $Default; DELETE detaches its readers and refuses new ones', async () => {
  await withHub(async (hub) => {
    const [created, group] = await putJson('/emulator/consumerGroups/Made.By-Rest');
    assert.equal(created, 200);
    assert.deepEqual(group, { name: 'Made.By-Rest', source: 'api' });
    // Any case names it, as in Event Hubs.
    const { partitionId } = await sendAndLocate(hub, hub.consumer({ group: 'made.by-rest' }), 'eh-group',
      [telemetry({ i: 0 }, { messageId: 'g-0' })]);
    // A reader attached when the group goes loses its link, as in Event Hubs.
    const attachedReader = reader(hub.consumer({ group: 'MADE.BY-REST' }),
      { partitionId, startPosition: earliestEventPosition });
    assert.deepEqual(ids(await eventsOf(attachedReader, 1, 'the attached reader to read g-0')), ['g-0']);

    const [deleted] = await deleteJson('/emulator/consumerGroups/Made.By-Rest');
    assert.equal(deleted, 204);
    const lost = await firstError(attachedReader, 'the attached reader to lose its link');
    assert.equal(lost.code, 'MessagingEntityNotFoundError', describe(lost));
    const r = reader(hub.consumer({ group: 'Made.By-Rest' }), { partitionId, startPosition: earliestEventPosition });
    const err = await firstError(r, 'a receiver on the deleted consumer group to be refused');
    assert.equal(err.code, 'MessagingEntityNotFoundError', describe(err));
    assert.deepEqual(r.events, []);
    const [again] = await deleteJson('/emulator/consumerGroups/Made.By-Rest');
    assert.equal(again, 404);
  });
});

test('epoch: a receiver with ownerLevel 2 takes the partition from one with ownerLevel 1 (ReceiverDisconnectedError)', async () => {
  await withHub(async (hub) => {
    const { device, partitionId } = await sendAndLocate(hub, hub.consumer(), 'eh-epoch',
      [telemetry({ i: 0 }, { messageId: 'e-0' })]);
    const first = reader(hub.consumer(), { partitionId, startPosition: earliestEventPosition, ownerLevel: 1 });
    assert.deepEqual(ids(await eventsOf(first, 1, 'the ownerLevel 1 receiver to read e-0')), ['e-0']);
    const second = reader(hub.consumer(), { partitionId, startPosition: latestEventPosition, ownerLevel: 2 });
    const err = await firstError(first, 'the ownerLevel 1 receiver to lose the partition');
    // core-amqp: amqp:link:stolen -> ReceiverDisconnectedError; the SDK then closes that pump with OwnershipLost.
    assert.equal(err.code, 'ReceiverDisconnectedError', describe(err));
    await waitUntil('the ownerLevel 1 subscription to close with OwnershipLost',
      () => first.closes.includes('OwnershipLost'), { timeout: kWait });
    await attached(second, [partitionId], 'the ownerLevel 2 receiver to attach');
    assert.deepEqual(second.errors, []);

    await send(device, [telemetry({ i: 1 }, { messageId: 'e-1' })]);
    assert.deepEqual(ids(await eventsOf(second, 1, 'the ownerLevel 2 receiver to read e-1')), ['e-1']);
    assert.deepEqual(ids(first.events), ['e-0'], 'the receiver that lost the partition reads nothing more');
  });
});

test('many readers: 5 on every partition all get the same events; a 6th on a partition and group is refused', async () => {
  await withHub(async (hub) => {
    const device = await createDevice(hub, 'eh-many');
    const partitionIds = await hub.consumer().getPartitionIds();
    const readers = [];
    for (let i = 0; i < 5; i++) readers.push(reader(hub.consumer(), { startPosition: earliestEventPosition }));
    await Promise.all(readers.map((r, i) => attached(r, partitionIds, `reader ${i} to attach on every partition`)));
    await send(device, [0, 1, 2].map((i) => telemetry({ i }, { messageId: `many-${i}` })));
    const seen = await Promise.all(readers.map((r, i) => eventsOf(r, 3, `reader ${i} to get the 3 events`)));
    for (const events of seen) {
      assert.deepEqual(ids(events), ['many-0', 'many-1', 'many-2']);
      assert.deepEqual(events.map((e) => e.sequenceNumber), seen[0].map((e) => e.sequenceNumber));
    }
    const partitionId = seen[0][0].partitionId;

    // Event Hubs allows 5 readers per partition and consumer group: amqp:resource-limit-exceeded, which core-amqp
    // names QuotaExceededError.
    const sixth = reader(hub.consumer(), { partitionId, startPosition: earliestEventPosition });
    const err = await firstError(sixth, 'the 6th reader on the partition to be refused');
    assert.equal(err.code, 'QuotaExceededError', describe(err));
    assert.deepEqual(sixth.events, []);
    await sixth.subscription.close();

    // Once one of the 5 leaves, a new reader fits.
    await readers[0].subscription.close();
    const next = reader(hub.consumer(), { partitionId, startPosition: earliestEventPosition });
    assert.deepEqual(ids(await eventsOf(next, 3, 'a reader that took a freed place to read from earliest')),
      ['many-0', 'many-1', 'many-2']);
  });
});

// An Event Hubs SAS token for everything under sb://{host}/{hub}: HMAC-SHA256 over "{encoded uri}\n{expiry}" keyed by
// the key string's UTF-8 bytes, as @azure/core-amqp signs them.
function eventHubsSas(uri, policy, key, expiry) {
  const sr = encodeURIComponent(uri);
  const sig = crypto.createHmac('sha256', key).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${policy}`;
}

// The SDK renews its own SAS tokens every 45 minutes (withAuth.js), too slow for a test. A SASCredential gives the
// SDK a token it does not make: a short-lived one expires while the receiver reads, and the link is detached
// (amqp:unauthorized-access -> UnauthorizedError, retryable). The SDK then re-opens the receiver with a new put-token
// of whatever the credential holds: update() it with a fresh token and reading resumes after the last event seen.
// The SDK takes any object with a string `signature` as a SASCredential (@azure/core-auth isSASCredential), which is
// what AzureSASCredential is; this one is updated by assigning it.
test('token expiry and renewal: the receiver is detached when its token expires and resumes with a new one', async () => {
  await withHub(async (hub) => {
    const { device, partitionId } = await sendAndLocate(hub, hub.consumer(), 'eh-expiry',
      [telemetry({ i: 0 }, { messageId: 'x-0' })]);
    const uri = `sb://localhost:${hub.amqpPort}/emulator`;
    const now = () => Math.floor(Date.now() / 1000);

    // A token that has already expired is refused at once.
    const expired = { signature: eventHubsSas(uri, 'service', policyKeys.service, now() - 60) };
    const stale = hub.track(new EventHubConsumerClient(kGroup, `localhost:${hub.amqpPort}`, 'emulator', expired,
      { retryOptions: kRetry }));
    await assert.rejects(stale.getEventHubProperties(), (err) => {
      assert.equal(err.code, 'UnauthorizedError', describe(err));
      return true;
    });

    const expiresAt = now() + 5;
    const credential = { signature: eventHubsSas(uri, 'service', policyKeys.service, expiresAt) };
    const client = hub.track(new EventHubConsumerClient(kGroup, `localhost:${hub.amqpPort}`, 'emulator', credential,
      { retryOptions: kRetry }));
    const r = { events: [], errors: [] };
    let renewed = false;
    const subscription = client.subscribe(partitionId, {
      async processEvents(events) { r.events.push(...events); },
      async processError(err) {
        r.errors.push({ err, at: Date.now() });
        // Renewed inside processError: the SDK awaits it before it re-opens the receiver.
        if (!renewed) {
          renewed = true;
          credential.signature = eventHubsSas(uri, 'service', policyKeys.service, now() + 3600);
        }
      },
    }, { startPosition: earliestEventPosition, maxBatchSize: 100, maxWaitTimeInSeconds: kIdleSeconds });
    try {
      await waitUntil('x-0 with the short-lived token', () => r.events.length >= 1, { timeout: kWait });
      assert.deepEqual(ids(r.events), ['x-0']);
      assert.ok(now() < expiresAt, 'x-0 came before the token expired (or the test machine is too slow)');

      const { err, at } = await waitUntil('the receiver to be detached once its token expires', () => r.errors[0],
        { timeout: kWait });
      assert.equal(err.code, 'UnauthorizedError', describe(err));
      assert.ok(at >= expiresAt * 1000 - 1000, `detached at ${new Date(at).toISOString()}, not before the token expired`);
      assert.ok(at <= expiresAt * 1000 + 10000, 'detached within 10 s of the expiry');

      await send(device, [telemetry({ i: 1 }, { messageId: 'x-1' })]);
      await waitUntil('x-1 after the token was renewed', () => r.events.length >= 2, { timeout: kWait });
      assert.deepEqual(ids(r.events), ['x-0', 'x-1'], 'reading resumed after x-0, nothing twice');
    } finally {
      await subscription.close();
    }
  });
});
