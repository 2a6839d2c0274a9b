// The official azure-iot-device client, unmodified, over all four of its transports:
// Mqtt (TLS on 8883), MqttWs (a WebSocket on 443, wss://{host}/$iothub/websocket, sub-protocol mqtt),
// Amqp (azure-iot-device-amqp: TLS on the AMQP port, which the connection string's HostName names) and
// AmqpWs (wss://{host}/$iothub/websocket, sub-protocol AMQPWSB10). Each behaviour they share is tested
// over each; what only AMQP has (C2D reject and abandon, token renewal on $cbs, multiplexing) after them.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const rhea = require('rhea');
const { Client, Message, SharedAccessKeyAuthenticationProvider } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { Amqp, AmqpWs } = require('azure-iot-device-amqp');
const { Registry, SharedAccessSignature } = require('azure-iothub');
const { startEmulator, hubConnectionString, getJson, postJson, policyKeys } = require('./helpers/emulator');
const { waitUntil, within } = require('./helpers/wait');

// The registry's view of a device, read through the official Registry.
async function deviceTwinOf(registry, id) {
  return (await registry.get(id)).responseBody;
}

let hub;
// Node 20 runs root-level `before` hooks as they are registered rather than one after another: the hooks below
// wait for this one's emulator.
let hubStarted;
before(async () => {
  hubStarted = startEmulator();
  hub = await hubStarted;
}, { timeout: 60000 });
after(async () => { if (hub) await hub.stop(); }, { timeout: 30000 });

// Amqp goes to amqps://{HostName}, so HostName carries the emulator's AMQP port; the others use 443 and 8883.
const transports = [
  { name: 'Mqtt', Transport: Mqtt, suffix: '', host: () => 'localhost' },
  { name: 'MqttWs', Transport: MqttWs, suffix: '-ws', host: () => 'localhost' },
  { name: 'Amqp', Transport: Amqp, suffix: '-amqp', host: () => `localhost:${hub.amqpPort}` },
  { name: 'AmqpWs', Transport: AmqpWs, suffix: '-amqpws', host: () => 'localhost' },
];

// A new device identity, and its connection string for the transport's host.
async function createDevice(id, host = 'localhost') {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const device = (await registry.create({ deviceId: id })).responseBody;
  return `HostName=${host};DeviceId=${id};SharedAccessKey=${device.authentication.symmetricKey.primaryKey}`;
}

for (const { name, Transport, suffix, host } of transports) {
  let deviceConnectionString;
  before(async () => {
    await hubStarted;
    deviceConnectionString = await createDevice(`node-device${suffix}`, host());
  });

  test(`${name}: sendEvent over ${name} lands in the event log with its ids, content type and properties`, async () => {
    const client = Client.fromConnectionString(deviceConnectionString, Transport);
    await client.open();
    for (let i = 0; i < 3; i++) {
      const message = new Message(JSON.stringify({ deviceId: `node-device${suffix}`, windSpeed: 10 + i }));
      message.messageId = `msg-${i}`;
      message.correlationId = `corr ${i}`;
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.properties.add('temperatureAlert', i === 2 ? 'true' : 'false');
      message.properties.add('a&b', 'x=y/z');
      await client.sendEvent(message);  // resolves on PUBACK, i.e. once the event is stored
    }
    await client.close();

    const events = await getJson(`/emulator/events?deviceId=node-device${suffix}`);
    assert.equal(events.length, 3);
    events.forEach((event, i) => {
      assert.deepEqual(event.body, { deviceId: `node-device${suffix}`, windSpeed: 10 + i });
      assert.deepEqual(event.properties, {
        messageId: `msg-${i}`, correlationId: `corr ${i}`, contentType: 'application/json', contentEncoding: 'utf-8',
      });
      assert.deepEqual(event.applicationProperties, { temperatureAlert: i === 2 ? 'true' : 'false', 'a&b': 'x=y/z' });
      assert.equal(event.annotations['iothub-connection-device-id'], `node-device${suffix}`);
      assert.equal(event.annotations['iothub-message-source'], 'Telemetry');
      assert.equal(JSON.parse(event.annotations['iothub-connection-auth-method']).scope, 'device');
      if (i > 0) assert.equal(event.sequenceNumber, events[i - 1].sequenceNumber + 1);
    });
  });

  test(`${name}: the registry shows the device connected while its client is open`, async () => {
    const registry = Registry.fromConnectionString(hubConnectionString());
    const client = Client.fromConnectionString(deviceConnectionString, Transport);
    await client.open();
    // Over AMQP, open() only signs in on $cbs: a device counts as connected from its first link (here the twin's).
    await client.getTwin();
    assert.equal((await registry.get(`node-device${suffix}`)).responseBody.connectionState, 'Connected');
    await client.close();
    // The hub handles the DISCONNECT on its own time.
    await waitUntil('the registry to show node-device disconnected',
      async () => (await deviceTwinOf(registry, `node-device${suffix}`)).connectionState === 'Disconnected');
  });

  test(`${name}: a wrong key fails to open with UnauthorizedError`, async () => {
    const wrong = deviceConnectionString.replace(/SharedAccessKey=.*/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const client = Client.fromConnectionString(wrong, Transport);
    await assert.rejects(client.open(), (err) => err.name === 'UnauthorizedError');
  });

  test(`${name}: direct methods: onDeviceMethod answers Client.invokeDeviceMethod`, async () => {
    const { Client: ServiceClient } = require('azure-iothub');
    const registry = Registry.fromConnectionString(hubConnectionString());
    const created = (await registry.create({ deviceId: `node-methods${suffix}` })).responseBody;
    const device = Client.fromConnectionString(
      `HostName=${host()};DeviceId=node-methods${suffix};SharedAccessKey=${created.authentication.symmetricKey.primaryKey}`, Transport);
    await device.open();
    device.onDeviceMethod('setInterval', (request, response) => {
      response.send(200, { interval: request.payload.seconds, applied: true });
    });
    // The SUBSCRIBE goes out after open; connectTimeoutInSeconds has the hub wait until the device listens.
    const service = ServiceClient.fromConnectionString(hubConnectionString());
    const { result } = await service.invokeDeviceMethod(`node-methods${suffix}`,
      { methodName: 'setInterval', payload: { seconds: 5 }, responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 10 });
    assert.deepEqual(result, { status: 200, payload: { interval: 5, applied: true } });
    await device.close();
    await waitUntil('the registry to show node-methods disconnected',
      async () => (await deviceTwinOf(registry, `node-methods${suffix}`)).connectionState === 'Disconnected');
    await assert.rejects(service.invokeDeviceMethod(`node-methods${suffix}`, { methodName: 'setInterval', responseTimeoutInSeconds: 5 }),
      (err) => err.response && err.response.statusCode === 404);
  });

  test(`${name}: cloud-to-device: the device client receives queued and live messages with their properties`, async () => {
    const registry = Registry.fromConnectionString(hubConnectionString());
    const created = (await registry.create({ deviceId: `node-c2d${suffix}` })).responseBody;
    const [queuedStatus] = await postJson(`/emulator/devices/node-c2d${suffix}/messages`,
      { body: 'queued while offline', messageId: 'c2d-1', properties: { room: 'kitchen' } });
    assert.equal(queuedStatus, 200);
    const device = Client.fromConnectionString(
      `HostName=${host()};DeviceId=node-c2d${suffix};SharedAccessKey=${created.authentication.symmetricKey.primaryKey}`, Transport);
    const received = [];
    device.on('message', (message) => {
      received.push({ id: message.messageId, body: message.data.toString(), props: message.properties.propertyList });
      device.complete(message, () => {});
    });
    await device.open();
    // The queued message arriving shows the device is subscribed: the next one is sent while it listens.
    await waitUntil('the queued message c2d-1', () => received.length >= 1);
    const [liveStatus] = await postJson(`/emulator/devices/node-c2d${suffix}/messages`, { body: { on: true }, messageId: 'c2d-2' });
    assert.equal(liveStatus, 200);
    await waitUntil('the live message c2d-2', () => received.length >= 2);
    assert.deepEqual(received.map((m) => m.id), ['c2d-1', 'c2d-2']);
    assert.equal(received[0].body, 'queued while offline');
    assert.deepEqual(received[0].props, [{ key: 'room', value: 'kitchen' }]);
    assert.deepEqual(JSON.parse(received[1].body), { on: true });
    // `complete` is a no-op over MQTT: the SDK's PUBACK, sent right after the 'message' event, completes
    // the message; over AMQP it is the delivery's outcome, accepted. Wait for the hub to have counted both done, while the connection is still open.
    await waitUntil('cloudToDeviceMessageCount of node-c2d to reach 0',
      async () => (await deviceTwinOf(registry, `node-c2d${suffix}`)).cloudToDeviceMessageCount === 0);
    await device.close();
    assert.equal(received.length, 2);  // nothing delivered twice
  });

  test(`${name}: twins: getTwin, reported update and the desired listener against Registry getTwin/updateTwin`, async () => {
    const errors = require('azure-iothub/dist/common-core/errors');
    const registry = Registry.fromConnectionString(hubConnectionString());
    const created = (await registry.create({ deviceId: `node-twin${suffix}` })).responseBody;
    const device = Client.fromConnectionString(
      `HostName=${host()};DeviceId=node-twin${suffix};SharedAccessKey=${created.authentication.symmetricKey.primaryKey}`, Transport);
    await device.open();
    const twin = await device.getTwin();
    assert.equal(twin.properties.desired.$version, 1);
    const desiredSeen = new Promise((resolve) => twin.on('properties.desired', (delta) => { if (delta.interval) resolve(delta); }));
    await new Promise((resolve, reject) =>
      twin.properties.reported.update({ battery: 80, firmware: { version: '1.0' } }, (err) => (err ? reject(err) : resolve())));

    const serviceTwin = (await registry.getTwin(`node-twin${suffix}`)).responseBody;
    assert.equal(serviceTwin.properties.reported.battery, 80);
    assert.deepEqual(serviceTwin.properties.reported.firmware, { version: '1.0' });
    const updated = (await registry.updateTwin(`node-twin${suffix}`,
      { tags: { room: 'lab' }, properties: { desired: { interval: 5 } } }, serviceTwin.etag)).responseBody;
    assert.equal(updated.tags.room, 'lab');
    assert.equal(updated.properties.desired.interval, 5);
    const delta = await within('the desired-property change to reach the device', desiredSeen);
    assert.equal(delta.interval, 5);
    assert.equal(delta.$version, updated.properties.desired.$version);
    await assert.rejects(registry.updateTwin(`node-twin${suffix}`, { tags: { stale: true } }, serviceTwin.etag), errors.InvalidEtagError);
    await device.close();
  });

  test(`${name}: twins: Twin.update with desired null removes every desired property, and the device hears each one go`, async () => {
    const registry = Registry.fromConnectionString(hubConnectionString());
    const created = (await registry.create({ deviceId: `node-twin-clear${suffix}` })).responseBody;
    const device = Client.fromConnectionString(
      `HostName=${host()};DeviceId=node-twin-clear${suffix};SharedAccessKey=${created.authentication.symmetricKey.primaryKey}`, Transport);
    await device.open();
    const deviceTwin = await device.getTwin();  // subscribes to desired-property changes
    const deltas = [];
    deviceTwin.on('properties.desired', (delta) => deltas.push(delta));
    // The listener starts the desired-property feed (over AMQP a PUT on the twin link, answered in order):
    // a reported update's answer after it shows the hub has heard it.
    await new Promise((resolve, reject) =>
      deviceTwin.properties.reported.update({ listening: true }, (err) => (err ? reject(err) : resolve())));

    const serviceTwin = (await registry.getTwin(`node-twin-clear${suffix}`)).responseBody;
    await serviceTwin.update({ tags: { site: 'north' }, properties: { desired: { interval: 5, mode: { eco: true } } } });
    await waitUntil('the device to hear interval 5', () => deviceTwin.properties.desired.interval === 5);

    // The SDK's Twin sends its own etag (If-Match) with the patch.
    await serviceTwin.update({ properties: { desired: null } });
    const cleared = await waitUntil('the device to hear the clearing patch',
      () => deltas.find((d) => Object.prototype.hasOwnProperty.call(d, 'interval') && d.interval === null));
    assert.deepEqual(cleared, { interval: null, mode: null, $version: serviceTwin.properties.desired.$version });
    assert.equal(deviceTwin.properties.desired.interval, undefined);  // the device SDK's merge deleted them
    assert.equal(deviceTwin.properties.desired.mode, undefined);

    const fresh = (await registry.getTwin(`node-twin-clear${suffix}`)).responseBody;
    assert.deepEqual(Object.keys(fresh.properties.desired).sort(), ['$metadata', '$version']);
    assert.equal(fresh.properties.desired.$version, cleared.$version);
    assert.deepEqual(fresh.tags, { site: 'north' });
    await device.close();
  });
}

test('our monitor (iothub monitor) shows what the official device SDK sends, in order', async () => {
  const { execFile } = require('node:child_process');
  const registry = Registry.fromConnectionString(hubConnectionString());
  const device = (await registry.create({ deviceId: 'node-monitored' })).responseBody;
  const monitor = new Promise((resolve, reject) => {
    execFile(process.env.IOTHUB_CLI_BIN,
      ['monitor', 'node-monitored', '--from', 'earliest', '--json', '-n', '3', '-t', '30', '--ca', process.env.NODE_EXTRA_CA_CERTS],
      { env: { ...process.env, IOTHUB_CONNECTION_STRING: hubConnectionString() }, timeout: 45000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const client = Client.fromConnectionString(
    `HostName=localhost;DeviceId=node-monitored;SharedAccessKey=${device.authentication.symmetricKey.primaryKey}`, Mqtt);
  await client.open();
  for (let i = 0; i < 3; i++) {
    const message = new Message(JSON.stringify({ windSpeed: 10 + i }));
    message.messageId = `m-${i}`;
    message.contentType = 'application/json';
    message.properties.add('temperatureAlert', 'false');
    await client.sendEvent(message);
  }
  await client.close();
  const events = (await monitor).trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(events.map((e) => e.properties.messageId), ['m-0', 'm-1', 'm-2']);
  assert.deepEqual(events.map((e) => e.body.windSpeed), [10, 11, 12]);
  assert.ok(events.every((e) => e.applicationProperties.temperatureAlert === 'false'));
});

// ---- What only the AMQP transports have ----

// A device's own SAS token for `resource` ("localhost/devices/{id}"), signed with its key, as the device SDK makes it.
function deviceToken(resource, key, seconds) {
  const { SharedAccessSignature: Sas } = require('azure-iot-common');
  return Sas.create(encodeURIComponent(resource), null, key, Math.ceil(Date.now() / 1000) + seconds).toString();
}

// Resolves with the first of the named events on `emitter` ({ name, context }), rejects after 10 s.
function next(emitter, names, what) {
  return within(what, new Promise((resolve) => {
    for (const n of names) emitter.once(n, (context) => resolve({ name: n, context }));
  }));
}

// A raw AMQP connection (rhea, the AMQP client inside the SDK) to the emulator's AMQP over TLS.
async function rheaConnect(options = {}) {
  const connection = rhea.create_container().connect({ host: 'localhost', port: hub.amqpPort, transport: 'tls',
    ca: fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS), reconnect: false, ...options });
  connection.on('disconnected', () => {});
  const { name } = await next(connection, ['connection_open', 'connection_error', 'disconnected'], 'the connection');
  assert.equal(name, 'connection_open');
  return connection;
}

// $cbs put-token as azure-iot-amqp-base does it; resolves to the answer's status-code.
async function putToken(connection, audience, token) {
  const replyTo = `cbs-reply-${Math.random()}`;
  const receiver = connection.open_receiver({ name: replyTo, source: '$cbs' });
  const sender = connection.open_sender('$cbs');
  await next(sender, ['sendable'], 'the $cbs sender');
  const answered = next(receiver, ['message'], 'the put-token answer');
  sender.send({ message_id: replyTo, reply_to: replyTo, body: token,
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience } });
  const { context } = await answered;
  return context.message.application_properties['status-code'];
}

// Sends one message on a sender link; resolves to the delivery's outcome event name (accepted, rejected, ...).
async function sendOne(sender, message) {
  await next(sender, ['sendable', 'sender_open'], 'the sender to open');
  const outcome = next(sender, ['accepted', 'rejected', 'released', 'modified', 'sender_error'], 'the outcome');
  sender.send(message);
  return (await outcome).name;
}

for (const { name, Transport, suffix, host } of transports.filter((t) => t.name.startsWith('Amqp'))) {
  test(`${name}: cloud-to-device reject and abandon: an abandoned message comes again, a rejected one is gone`, async () => {
    const registry = Registry.fromConnectionString(hubConnectionString());
    const id = `node-c2d-settle${suffix}`;
    const connectionString = await createDevice(id, host());
    const device = Client.fromConnectionString(connectionString, Transport);
    const seen = [];
    device.on('message', (message) => {
      seen.push(message.messageId);
      if (message.messageId === 'to-reject') return device.reject(message, () => {});
      const first = seen.filter((m) => m === 'to-abandon').length === 1;
      return first && message.messageId === 'to-abandon' ? device.abandon(message, () => {}) : device.complete(message, () => {});
    });
    await device.open();
    // One message at a time: rhea 1.0.24 writes the outcomes of consecutive deliveries settled in the same tick
    // as one disposition with the first one's outcome, so a reject right after an abandon would go out as an abandon.
    const post = async (messageId) => assert.equal((await postJson(`/emulator/devices/${id}/messages`, { body: messageId, messageId }))[0], 200);
    await post('to-abandon');
    await waitUntil('to-abandon to come twice and then be completed', async () =>
      seen.filter((m) => m === 'to-abandon').length === 2 && (await deviceTwinOf(registry, id)).cloudToDeviceMessageCount === 0);
    await post('to-reject');
    await waitUntil('to-reject to be received and leave the queue', async () =>
      seen.includes('to-reject') && (await deviceTwinOf(registry, id)).cloudToDeviceMessageCount === 0);
    // A message after it comes alone: the rejected one was not put back.
    await post('after');
    await waitUntil('the message after it', async () =>
      seen.includes('after') && (await deviceTwinOf(registry, id)).cloudToDeviceMessageCount === 0);
    await device.close();
    assert.deepEqual(seen, ['to-abandon', 'to-abandon', 'to-reject', 'after']);
  });

  test(`${name}: with tokenRenewal the connection outlives its tokens, renewed on $cbs`, async () => {
    const id = `node-renewal${suffix}`;
    const connectionString = await createDevice(id, host());
    // Tokens valid 4 s, renewed every 2 s.
    const provider = SharedAccessKeyAuthenticationProvider.fromConnectionString(connectionString, 4, 2);
    let renewals = 0;
    provider.on('newTokenAvailable', () => { renewals += 1; });
    const device = Client.fromAuthenticationProvider(provider, Transport);
    const problems = [];
    device.on('error', (err) => problems.push(err));
    device.on('disconnect', (err) => problems.push(err || new Error('disconnect')));
    const received = [];
    device.on('message', (message) => { received.push(message.messageId); device.complete(message, () => {}); });
    await device.open();
    await device.sendEvent(new Message('before'));
    await waitUntil('three token renewals (each token outlived)', () => renewals >= 3, { timeout: 15000 });
    // The links opened under the first token still work: telemetry lands, cloud-to-device arrives.
    await device.sendEvent(new Message('after'));
    const [status] = await postJson(`/emulator/devices/${id}/messages`, { body: 'late', messageId: 'late' });
    assert.equal(status, 200);
    await waitUntil('the C2D message sent after the renewals', () => received.includes('late'));
    assert.deepEqual(problems, []);
    await device.close();
    const events = await getJson(`/emulator/events?deviceId=${id}`);
    assert.deepEqual(events.map((e) => e.body), ['before', 'after']);
  });

  test(`${name}: a message over 256 KiB is refused with MessageTooLargeError, and the link stays usable`, async () => {
    const id = `node-large${suffix}`;
    const device = Client.fromConnectionString(await createDevice(id, host()), Transport);
    await device.open();
    await assert.rejects(device.sendEvent(new Message(Buffer.alloc(300 * 1024, 'x'))),
      (err) => err.name === 'MessageTooLargeError');
    await device.sendEvent(new Message('small'));
    await device.close();
    assert.deepEqual((await getJson(`/emulator/events?deviceId=${id}`)).map((e) => e.body), ['small']);
  });

  test(`${name}: a module's links are refused as not implemented`, async () => {
    const id = `node-module${suffix}`;
    const deviceString = await createDevice(id, host());
    const device = Client.fromConnectionString(`${deviceString};ModuleId=m1`, Transport);
    await device.open();  // the token itself is the device's key's
    await assert.rejects(device.sendEvent(new Message('from a module')), (err) => {
      assert.equal(err.name, 'NotImplementedError');
      assert.match(err.amqpError.description, /Module identities are not supported/);
      return true;
    });
    await device.close();
  });
}

test('AMQP: a device connecting elsewhere (MQTT) has its AMQP links detached', async () => {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const key = (await registry.create({ deviceId: 'node-takeover' })).responseBody.authentication.symmetricKey.primaryKey;
  const connection = await rheaConnect();
  assert.equal(await putToken(connection, 'localhost/devices/node-takeover',
    deviceToken('localhost/devices/node-takeover', key, 3600)), 200);
  const receiver = connection.open_receiver({ source: { address: '/devices/node-takeover/messages/devicebound' }, autoaccept: false });
  await next(receiver, ['receiver_open'], 'the C2D link to open');
  const detached = next(receiver, ['receiver_error'], 'the C2D link to be detached');
  const mqttDevice = Client.fromConnectionString(
    `HostName=localhost;DeviceId=node-takeover;SharedAccessKey=${key}`, Mqtt);
  await mqttDevice.open();
  const { context } = await detached;
  assert.equal(context.receiver.error.condition, 'amqp:link:detach-forced');
  assert.equal((await deviceTwinOf(registry, 'node-takeover')).connectionState, 'Connected');  // over MQTT now
  // Its messages go to the MQTT connection now.
  const received = new Promise((resolve) => mqttDevice.on('message', (m) => { mqttDevice.complete(m, () => {}); resolve(m.messageId); }));
  assert.equal((await postJson('/emulator/devices/node-takeover/messages', { body: 'x', messageId: 'to-mqtt' }))[0], 200);
  assert.equal(await within('the message over MQTT', received), 'to-mqtt');
  await mqttDevice.close();
  connection.close();
});

test('AMQP: one connection carries several devices, each signed in by its own token on $cbs or by SASL PLAIN', async () => {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const keys = {};
  for (const id of ['mux-a', 'mux-b', 'mux-c']) {
    keys[id] = (await registry.create({ deviceId: id })).responseBody.authentication.symmetricKey.primaryKey;
  }
  const connection = await rheaConnect();
  for (const id of ['mux-a', 'mux-b']) {
    assert.equal(await putToken(connection, encodeURIComponent(`localhost/devices/${id}`),
      deviceToken(`localhost/devices/${id}`, keys[id], 3600)), 200);
  }
  for (const id of ['mux-a', 'mux-b']) {
    const sender = connection.open_sender({ target: { address: `/devices/${id}/messages/events` } });
    assert.equal(await sendOne(sender, { message_id: `${id}-1`, body: rhea.message.data_section(Buffer.from(id)) }),
      'accepted');
  }
  for (const id of ['mux-a', 'mux-b']) {
    const events = await getJson(`/emulator/events?deviceId=${id}`);
    assert.deepEqual(events.map((e) => [e.body, e.properties.messageId]), [[id, `${id}-1`]]);
    assert.equal((await deviceTwinOf(registry, id)).connectionState, 'Connected');
  }
  // mux-a's token does not open mux-c's links.
  const refused = connection.open_sender({ target: { address: '/devices/mux-c/messages/events' } });
  const { context } = await next(refused, ['sender_error'], 'the refusal');
  assert.equal(context.sender.error.condition, 'amqp:unauthorized-access');
  connection.close();
  await waitUntil('mux-a and mux-b to be disconnected', async () =>
    (await deviceTwinOf(registry, 'mux-a')).connectionState === 'Disconnected'
      && (await deviceTwinOf(registry, 'mux-b')).connectionState === 'Disconnected');

  // SASL PLAIN: {deviceId}@sas.{hub} and the device's token as password.
  const plain = await rheaConnect({ username: 'mux-c@sas.emulator',
    password: deviceToken('localhost/devices/mux-c', keys['mux-c'], 3600) });
  const sender = plain.open_sender({ target: { address: '/devices/mux-c/messages/events' } });
  assert.equal(await sendOne(sender, { body: rhea.message.data_section(Buffer.from('plain')) }), 'accepted');
  const other = plain.open_sender({ target: { address: '/devices/mux-a/messages/events' } });
  assert.equal((await next(other, ['sender_error'], 'the refusal')).context.sender.error.condition,
    'amqp:unauthorized-access');
  plain.close();
});

test('AMQP: a device link whose token expires unrenewed is detached with amqp:unauthorized-access', async () => {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const key = (await registry.create({ deviceId: 'expiring' })).responseBody.authentication.symmetricKey.primaryKey;
  const connection = await rheaConnect();
  assert.equal(await putToken(connection, 'localhost/devices/expiring', deviceToken('localhost/devices/expiring', key, 3)), 200);
  const receiver = connection.open_receiver({ source: { address: '/devices/expiring/messages/devicebound' }, autoaccept: false });
  await next(receiver, ['receiver_open'], 'the C2D link to open');
  assert.equal((await deviceTwinOf(registry, 'expiring')).connectionState, 'Connected');
  const { name, context } = await next(receiver, ['receiver_error'], 'the detach at expiry');
  assert.equal(name, 'receiver_error');
  assert.equal(context.receiver.error.condition, 'amqp:unauthorized-access');
  await waitUntil('the device to be disconnected', async () =>
    (await deviceTwinOf(registry, 'expiring')).connectionState === 'Disconnected');
  connection.close();
});

test('AMQP: a cloud-to-device message left unsettled when the connection ends comes again at once', async () => {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const key = (await registry.create({ deviceId: 'unsettled' })).responseBody.authentication.symmetricKey.primaryKey;
  assert.equal((await postJson('/emulator/devices/unsettled/messages', { body: 'x', messageId: 'kept' }))[0], 200);
  const connection = await rheaConnect();
  assert.equal(await putToken(connection, 'localhost/devices/unsettled', deviceToken('localhost/devices/unsettled', key, 3600)), 200);
  const receiver = connection.open_receiver({ source: { address: '/devices/unsettled/messages/devicebound' }, autoaccept: false });
  const { context } = await next(receiver, ['message'], 'the message on the raw link');
  assert.equal(context.message.message_id, 'kept');
  assert.equal(context.message.to, '/devices/unsettled/messages/devicebound');
  assert.equal(context.delivery.tag.length, 16);  // the lock token's bytes, as IoT Hub tags it
  connection.close();  // without settling it
  // Its lock would hold it a minute; the hub gives it back as the connection ends.
  const device = Client.fromConnectionString(`HostName=localhost:${hub.amqpPort};DeviceId=unsettled;SharedAccessKey=${key}`, Amqp);
  const again = new Promise((resolve) => device.on('message', (m) => { device.complete(m, () => {}); resolve(m.messageId); }));
  await device.open();
  assert.equal(await within('the message again', again), 'kept');
  await waitUntil('the queue to empty', async () => (await deviceTwinOf(registry, 'unsettled')).cloudToDeviceMessageCount === 0);
  await device.close();
});
