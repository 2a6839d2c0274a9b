// The official azure-iothub service Client, unmodified, over its default transport Amqp (AMQP over TLS, no SASL,
// $cbs put-token for the hub's host name) and over AmqpWs (wss://{host}:443/$iothub/websocket): cloud-to-device
// messages sent on /messages/devicebound reach a device connected with the MQTT device SDK, feedback arrives on
// /messages/serviceBound/feedback, the file-notification receiver opens, and refusals surface as the SDK's errors.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Message } = require('azure-iot-common');
const { Client, Registry, Amqp, AmqpWs } = require('azure-iothub');
const { startEmulator, hubConnectionString, policyKeys, deleteJson } = require('./helpers/emulator');
const { waitUntil, within } = require('./helpers/wait');

const kFeedbackContentType = 'application/vnd.microsoft.iothub.feedback.json';

let hub;
let hubStarted;
before(async () => {
  hubStarted = startEmulator({ mqttPort: 0 });
  hub = await hubStarted;
}, { timeout: 60000 });
after(async () => { if (hub) await hub.stop(); }, { timeout: 30000 });

// Amqp connects to amqps://{HostName}: the port of the emulator's AMQP listener goes in the host name (the token's
// sr then names it too). AmqpWs always goes to {HostName}:443.
function serviceConnectionString(Transport, key = policyKeys.iothubowner) {
  const host = Transport === Amqp ? `localhost:${hub.amqpPort}` : 'localhost';
  return `HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=${key}`;
}

async function createDevice(id) {
  const registry = Registry.fromConnectionString(hubConnectionString());
  return (await registry.create({ deviceId: id })).responseBody;
}

// A device connected with the MQTT device SDK, completing what it receives; resolves to { client, received }.
async function connectDevice(device) {
  const client = DeviceClient.fromConnectionString(`HostName=localhost:${hub.mqttPort};DeviceId=${device.deviceId};`
    + `SharedAccessKey=${device.authentication.symmetricKey.primaryKey}`, Mqtt);
  const received = [];
  client.on('message', (message) => {
    received.push({ id: message.messageId, correlationId: message.correlationId, body: message.data.toString(),
      props: message.properties.propertyList });
    client.complete(message, () => {});
  });
  await client.open();
  return { client, received };
}

// The feedback receiver of an open service client, collecting every record of every feedback message.
function feedbackOf(service) {
  return new Promise((resolve, reject) => {
    service.getFeedbackReceiver((err, receiver) => {
      if (err) return reject(err);
      const feedback = { receiver, records: [], messages: [] };
      receiver.on('message', (message) => {
        feedback.messages.push(message);
        feedback.records.push(...JSON.parse(message.data.toString()));
        receiver.complete(message, () => {});
      });
      return resolve(feedback);
    });
  });
}

for (const [name, Transport, suffix] of [['Amqp', Amqp, ''], ['AmqpWs', AmqpWs, '-ws']]) {
  test(`${name}: send with each ack mode reaches an MQTT device; feedback comes for positive and full only`, async () => {
    const device = await createDevice(`svc-dev${suffix}`);
    const { client: deviceClient, received } = await connectDevice(device);
    const service = Client.fromConnectionString(serviceConnectionString(Transport), Transport);
    await service.open();
    try {
      const feedback = await feedbackOf(service);
      const acks = ['none', 'negative', 'positive', 'full'];
      for (const ack of acks) {
        const message = new Message(`body for ${ack}`);
        message.messageId = `${suffix}-${ack}`;
        message.correlationId = `corr ${ack}`;
        message.ack = ack;
        message.properties.add('mode', ack);
        message.properties.add('a&b', 'x=y/z');
        await service.send(`svc-dev${suffix}`, message);  // resolves once the hub accepted (queued) it
      }
      // A uuid message id travels as an AMQP uuid and arrives as its text.
      const uuid = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
      const last = new Message(JSON.stringify({ on: true }));
      last.messageId = uuid;
      last.ack = 'full';
      await service.send(`svc-dev${suffix}`, last);

      await waitUntil('the device to receive the five messages', () => received.length >= 5);
      assert.deepEqual(received.map((m) => m.id), [...acks.map((ack) => `${suffix}-${ack}`), uuid]);
      acks.forEach((ack, i) => {
        assert.equal(received[i].body, `body for ${ack}`);
        assert.equal(received[i].correlationId, `corr ${ack}`);
        assert.deepEqual(received[i].props, [{ key: 'mode', value: ack }, { key: 'a&b', value: 'x=y/z' }]);
      });
      assert.deepEqual(JSON.parse(received[4].body), { on: true });

      // Records come oldest first: once the last message's is in, any for none or negative would be too.
      await waitUntil('the feedback record of the last message', () => feedback.records.some((r) => r.originalMessageId === uuid));
      const ids = feedback.records.map((r) => r.originalMessageId);
      assert.deepEqual(ids, [`${suffix}-positive`, `${suffix}-full`, uuid]);
      for (const record of feedback.records) {
        assert.equal(record.statusCode, 'Success');
        assert.equal(record.description, 'Success');
        assert.equal(record.deviceId, `svc-dev${suffix}`);
        assert.equal(record.deviceGenerationId, device.generationId);
        assert.ok(!Number.isNaN(Date.parse(record.enqueuedTimeUtc)), record.enqueuedTimeUtc);
      }
      for (const message of feedback.messages) {
        assert.equal(message.contentType, kFeedbackContentType);
        assert.equal(Buffer.from(message.transportObj.user_id).toString(), 'emulator');
        assert.ok(message.messageId);
      }
    } finally {
      await deviceClient.close();
      await service.close();
    }
  });

  test(`${name}: negative feedback (a purged queue) reaches the feedback receiver; a completed batch is gone`, async () => {
    await createDevice(`svc-offline${suffix}`);
    const service = Client.fromConnectionString(serviceConnectionString(Transport), Transport);
    await service.open();
    const feedback = await feedbackOf(service);
    for (const ack of ['none', 'positive', 'negative', 'full']) {
      const message = new Message('never delivered');
      message.messageId = `purged-${ack}${suffix}`;
      message.ack = ack;
      await service.send(`svc-offline${suffix}`, message);
    }
    const [status, purged] = await deleteJson(`/devices/svc-offline${suffix}/commands?api-version=2021-04-12`);
    assert.equal(status, 200);
    assert.equal(purged.totalMessagesPurged, 4);
    await waitUntil('the purge feedback', () => feedback.records.length >= 2);
    assert.deepEqual(feedback.records.map((r) => [r.originalMessageId, r.statusCode]),
      [[`purged-negative${suffix}`, 'Purged'], [`purged-full${suffix}`, 'Purged']]);
    await service.close();

    // The SDK accepted those batches: a new receiver gets nothing of them again.
    const again = Client.fromConnectionString(serviceConnectionString(Transport), Transport);
    await again.open();
    const second = await feedbackOf(again);
    const marker = new Message('marker');
    marker.messageId = `marker${suffix}`;
    marker.ack = 'negative';
    await again.send(`svc-offline${suffix}`, marker);
    await deleteJson(`/devices/svc-offline${suffix}/commands?api-version=2021-04-12`);
    await waitUntil('the marker\'s feedback', () => second.records.length >= 1);
    assert.deepEqual(second.records.map((r) => r.originalMessageId), [`marker${suffix}`]);
    await again.close();
  });

  test(`${name}: getFileNotificationReceiver opens`, async () => {
    const service = Client.fromConnectionString(serviceConnectionString(Transport), Transport);
    await service.open();
    const receiver = await within('the file notification receiver', new Promise((resolve, reject) => {
      service.getFileNotificationReceiver((err, r) => (err ? reject(err) : resolve(r)));
    }));
    assert.ok(receiver);
    await service.close();
  });

  test(`${name}: an unknown device, a full queue and a wrong key are the SDK's errors`, async () => {
    const service = Client.fromConnectionString(serviceConnectionString(Transport), Transport);
    await service.open();
    await assert.rejects(service.send('no-such-device', new Message('x')), (err) => {
      assert.equal(err.name, 'DeviceNotFoundError');
      return true;
    });
    await createDevice(`svc-full${suffix}`);
    for (let i = 0; i < 50; i++) await service.send(`svc-full${suffix}`, new Message(`m${i}`));
    await assert.rejects(service.send(`svc-full${suffix}`, new Message('one too many')), (err) => {
      assert.equal(err.name, 'DeviceMaximumQueueDepthExceededError');
      return true;
    });
    // Larger than IoT Hub's 64 KB for a cloud-to-device message.
    await assert.rejects(service.send(`svc-dev${suffix}`, new Message(Buffer.alloc(70 * 1024, 'a'))), (err) => {
      assert.equal(err.name, 'MessageTooLargeError');
      return true;
    });
    await service.close();

    const wrongKey = Client.fromConnectionString(serviceConnectionString(Transport, policyKeys.service), Transport);
    // $cbs answers put-token with 401: the SDK's CBS link makes that an UnauthorizedError, which its connect wraps.
    await assert.rejects(wrongKey.open(), (err) => {
      assert.equal(err.message, 'AMQP Transport: Could not connect');
      assert.equal(err.amqpError.name, 'UnauthorizedError');
      return true;
    });
  });
}

// The feedback node's settlement rules, with rhea (the AMQP client inside the SDKs) used directly: the SDK's
// receiver accepts at once, so releasing is only reachable this way.
test('feedback: a released batch comes again with the same records, an accepted one is gone; the tag is 16 bytes', async () => {
  const fs = require('node:fs');
  const rhea = require('rhea');
  const { SharedAccessSignature } = require('azure-iothub');
  await createDevice('svc-rhea');
  const service = Client.fromConnectionString(serviceConnectionString(Amqp), Amqp);
  const message = new Message('x');
  message.messageId = 'rhea-1';
  message.ack = 'negative';
  await service.send('svc-rhea', message);
  await service.close();
  await deleteJson('/devices/svc-rhea/commands?api-version=2021-04-12');  // a Purged record

  const connection = rhea.create_container().connect({ host: 'localhost', port: hub.amqpPort, transport: 'tls',
    ca: fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS), reconnect: false });
  connection.on('disconnected', () => {});
  try {
    const audience = `localhost:${hub.amqpPort}`;
    const cbsReplies = connection.open_receiver({ source: '$cbs', name: 'cbs' });
    const cbs = connection.open_sender({ target: '$cbs' });
    const reply = within('the put-token reply', new Promise((resolve) => cbsReplies.once('message', (c) => resolve(c.message))));
    cbs.once('sendable', () => cbs.send({ to: '$cbs', message_id: 'put-1', reply_to: 'cbs',
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
      body: SharedAccessSignature.create(audience, 'iothubowner', policyKeys.iothubowner,
        Math.ceil(Date.now() / 1000) + 3600).toString() }));
    assert.equal((await reply).application_properties['status-code'], 200);

    const receiver = connection.open_receiver({ source: '/messages/serviceBound/feedback', autoaccept: false });
    const deliveries = [];
    const twice = within('the feedback batch twice', new Promise((resolve) => {
      receiver.on('message', (context) => {
        deliveries.push({ tag: Buffer.from(context.delivery.tag), body: Buffer.from(context.message.body.content).toString() });
        if (deliveries.length === 1) context.delivery.release();
        else { context.delivery.accept(); resolve(); }
      });
    }));
    await twice;
    assert.equal(deliveries[0].body, deliveries[1].body);
    assert.deepEqual(JSON.parse(deliveries[0].body).map((r) => [r.originalMessageId, r.statusCode]), [['rhea-1', 'Purged']]);
    assert.equal(deliveries[0].tag.length, 16);
    assert.notDeepEqual(deliveries[0].tag, deliveries[1].tag);  // a new lock each time it is sent
  } finally {
    connection.close();
  }
  // Accepted: a new receiver gets nothing of it (a marker's record comes first, and alone).
  const again = Client.fromConnectionString(serviceConnectionString(Amqp), Amqp);
  await again.open();
  const feedback = await feedbackOf(again);
  const marker = new Message('m');
  marker.messageId = 'rhea-marker';
  marker.ack = 'negative';
  await again.send('svc-rhea', marker);
  await deleteJson('/devices/svc-rhea/commands?api-version=2021-04-12');
  await waitUntil('the marker\'s feedback', () => feedback.records.length >= 1);
  assert.deepEqual(feedback.records.map((r) => r.originalMessageId), ['rhea-marker']);
  await again.close();
});
