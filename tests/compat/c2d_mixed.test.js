// Cloud-to-device across every device transport, with the official SDKs unmodified: the
// service Client (AMQP) sends to four devices, on Mqtt, MqttWs, Amqp and AmqpWs; each
// device completes what it gets, and the service reads one Success feedback record per
// device. Then each device on AMQP rejects one (Rejected), which MQTT cannot express.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { Amqp, AmqpWs } = require('azure-iot-device-amqp');
const { Client: ServiceClient, Registry } = require('azure-iothub');
const { Message } = require('azure-iot-common');
const { startEmulator, hubConnectionString, policyKeys } = require('./helpers/emulator');
const { waitUntil, within } = require('./helpers/wait');

let hub;
before(async () => { hub = await startEmulator(); }, { timeout: 60000 });
after(async () => { if (hub) await hub.stop(); }, { timeout: 30000 });

const transports = [['Mqtt', Mqtt], ['MqttWs', MqttWs], ['Amqp', Amqp], ['AmqpWs', AmqpWs]];

// A device identity on `Transport`, open, collecting what it receives; `settle` decides complete or reject.
async function openDevice(registry, id, Transport, received, settle) {
  const created = (await registry.create({ deviceId: id })).responseBody;
  // Amqp goes to the test's own AMQPS port; the other transports to their usual ones (8883, 443).
  const host = Transport === Amqp ? `localhost:${hub.amqpPort}` : 'localhost';
  const device = DeviceClient.fromConnectionString(
    `HostName=${host};DeviceId=${id};SharedAccessKey=${created.authentication.symmetricKey.primaryKey}`, Transport);
  device.on('message', (message) => {
    received.push({ id, messageId: message.messageId, body: message.data.toString() });
    if (settle(message) === 'reject') device.reject(message, () => {});
    else device.complete(message, () => {});
  });
  await within(`${id} to open`, device.open());
  return device;
}

// Every feedback record the service receives, as parsed JSON, accepting each batch.
function openFeedback(service) {
  return new Promise((resolve, reject) => {
    service.getFeedbackReceiver((err, receiver) => {
      if (err) return reject(err);
      const records = [];
      receiver.on('message', (message) => {
        records.push(...JSON.parse(message.data.toString()));
        receiver.complete(message, () => {});
      });
      return resolve(records);
    });
  });
}

test('C2D from the service Client reaches devices on Mqtt, MqttWs, Amqp and AmqpWs, and each one\'s feedback comes back', { timeout: 60000 }, async () => {
  const registry = Registry.fromConnectionString(hubConnectionString());
  const service = ServiceClient.fromConnectionString(
    `HostName=localhost:${hub.amqpPort};SharedAccessKeyName=service;SharedAccessKey=${policyKeys.service}`);
  await within('the service client to open', service.open());
  const records = await within('the feedback receiver', openFeedback(service));
  const received = [];
  const devices = [];
  try {
    for (const [name, Transport] of transports) {
      devices.push(await openDevice(registry, `mixed-${name.toLowerCase()}`, Transport, received,
        (m) => (m.data.toString().startsWith('reject') ? 'reject' : 'complete')));
    }
    for (const [name] of transports) {
      const message = new Message(`hello ${name}`);
      message.messageId = `mixed-ok-${name}`;
      message.ack = 'full';
      await within(`the send to ${name}`, service.send(`mixed-${name.toLowerCase()}`, message));
    }
    await waitUntil('every device to receive its message', () => received.length >= transports.length, { timeout: 10000 }).catch((e) => { throw new Error(e.message + ' got ' + JSON.stringify(received)); });
    assert.deepEqual(received.map((r) => [r.id, r.messageId, r.body]).sort(),
      transports.map(([name]) => [`mixed-${name.toLowerCase()}`, `mixed-ok-${name}`, `hello ${name}`]).sort());
    const successes = await waitUntil('a Success record per device', () => {
      const ok = records.filter((r) => r.originalMessageId.startsWith('mixed-ok-'));
      return ok.length >= transports.length && ok;
    });
    for (const [name] of transports) {
      const record = successes.find((r) => r.originalMessageId === `mixed-ok-${name}`);
      assert.ok(record, `a record for ${name}`);
      assert.equal(record.deviceId, `mixed-${name.toLowerCase()}`);
      assert.equal(record.statusCode, 'Success');
      assert.ok(record.deviceGenerationId);
      assert.ok(!Number.isNaN(Date.parse(record.enqueuedTimeUtc)));
    }

    // AMQP devices can reject; the service hears Rejected.
    for (const name of ['Amqp', 'AmqpWs']) {
      const message = new Message(`reject ${name}`);
      message.messageId = `mixed-rejected-${name}`;
      message.ack = 'negative';
      await service.send(`mixed-${name.toLowerCase()}`, message);
    }
    const rejected = await waitUntil('a Rejected record per AMQP device', () => {
      const r = records.filter((x) => x.originalMessageId.startsWith('mixed-rejected-'));
      return r.length >= 2 && r;
    });
    assert.deepEqual(rejected.map((r) => [r.originalMessageId, r.statusCode]).sort(),
      [['mixed-rejected-Amqp', 'Rejected'], ['mixed-rejected-AmqpWs', 'Rejected']]);
  } finally {
    await Promise.all(devices.map((d) => d.close()));
    await service.close();
  }
});
