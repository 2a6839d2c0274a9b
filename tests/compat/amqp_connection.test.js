// The AMQP endpoint at the connection level, with rhea (the AMQP client inside the Azure SDKs for JS, used here
// directly): SASL PLAIN sign-in as IoT Hub's own AMQP clients do it, the redirect of IoT Hub's events address to the
// Event Hub-compatible entity (spec §6.6), heartbeats, the read-only entity, many links on one connection, and
// bytes that are not AMQP.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const rhea = require('rhea');
const { SharedAccessSignature } = require('azure-iothub');
const { startEmulator, policyKeys } = require('./helpers/emulator');
const { within } = require('./helpers/wait');

const kWait = 10000;

async function withHub(fn) {
  const hub = await startEmulator({ mqttPort: 0 });
  const connections = [];
  hub.connect = (options) => {
    const container = rhea.create_container();
    const connection = container.connect({ host: 'localhost', port: hub.amqpPort, transport: 'tls',
      ca: fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS), reconnect: false, ...options });
    connection.on('disconnected', () => {});  // expected when the hub refuses or the test ends: not worth a log line
    connections.push(connection);
    return connection;
  };
  try {
    await fn(hub);
  } catch (err) {
    err.message += `\n--- emulator log ---\n${hub.log()}`;
    throw err;
  } finally {
    for (const c of connections) c.close();
    await hub.stop();
  }
}

// Resolves with the first of the named events on `emitter` (its arguments' first), rejects after kWait.
function next(emitter, names, what) {
  return within(what, new Promise((resolve) => {
    for (const name of names) emitter.once(name, (context) => resolve({ name, context }));
  }), kWait);
}

function ownerToken(resource, seconds = 3600) {
  return SharedAccessSignature.create(resource, 'iothubowner', policyKeys.iothubowner,
    Math.ceil(Date.now() / 1000) + seconds).toString();
}

test('SASL PLAIN as {policy}@sas.root.{hub}, then a receiver on messages/events is redirected to the entity', async () => {
  await withHub(async (hub) => {
    const connection = hub.connect({ username: 'iothubowner@sas.root.emulator',
      password: ownerToken('localhost/messages/events') });
    await next(connection, ['connection_open'], 'the connection to open');
    const receiver = connection.open_receiver({ source: 'messages/events/ConsumerGroups/$Default/Partitions/0' });
    const { context } = await next(receiver, ['receiver_error', 'receiver_close'], 'the redirect');
    const error = context.receiver.error;
    assert.equal(error.condition, 'amqp:link:redirect');
    assert.equal(error.info.hostname, 'localhost');
    assert.equal(error.info['network-host'], 'localhost');
    assert.equal(error.info.port, hub.amqpPort);
    assert.equal(error.info.address, `amqps://localhost:${hub.amqpPort}/emulator/ConsumerGroups/$Default/Partitions/0`);

    // The key itself is a password too, and $management is redirected alike.
    const byKey = hub.connect({ username: 'service', password: policyKeys.service });
    await next(byKey, ['connection_open'], 'a connection signed in with the key');
    const management = byKey.open_receiver({ source: 'amqps://localhost/messages/events/$management' });
    const redirected = await next(management, ['receiver_error', 'receiver_close'], 'the $management redirect');
    assert.equal(redirected.context.receiver.error.info.address, `amqps://localhost:${hub.amqpPort}/emulator/$management`);
  });
});

test('SASL PLAIN with a wrong password, another hub or a policy without ServiceConnect is refused', async () => {
  await withHub(async (hub) => {
    for (const [username, password] of [['iothubowner@sas.root.emulator', policyKeys.service],
      ['iothubowner@sas.root.otherhub', policyKeys.iothubowner], ['nobody', policyKeys.iothubowner]]) {
      const connection = hub.connect({ username, password });
      const { name, context } = await next(connection, ['connection_open', 'connection_error', 'disconnected'],
        `the sign-in of ${username} to fail`);
      assert.notEqual(name, 'connection_open', `${username} signed in`);
      assert.match(String(context.error && (context.error.condition || context.error.message)),
        /unauthorized|auth|SASL/i);
    }
    // registryRead may sign in but may not read events: the redirect is refused.
    const reader = hub.connect({ username: 'registryRead', password: policyKeys.registryRead });
    await next(reader, ['connection_open'], 'registryRead to sign in');
    const receiver = reader.open_receiver({ source: 'messages/events/ConsumerGroups/$Default/Partitions/0' });
    const { context } = await next(receiver, ['receiver_error', 'receiver_close'], 'the refusal');
    assert.equal(context.receiver.error.condition, 'amqp:unauthorized-access');
  });
});

test('heartbeats keep a quiet connection open past the client\'s idle timeout', async () => {
  await withHub(async (hub) => {
    // rhea closes a connection that receives nothing for idle_time_out: the hub must send empty frames meanwhile.
    const connection = hub.connect({ idle_time_out: 1000 });
    await next(connection, ['connection_open'], 'the connection to open');
    const dropped = next(connection, ['connection_error', 'disconnected', 'connection_close'], 'a drop')
      .then(({ name }) => name, () => null);
    const quiet = await Promise.race([dropped, new Promise((resolve) => setTimeout(() => resolve('quiet'), 3500))]);
    assert.equal(quiet, 'quiet', 'the connection was dropped while quiet');
    assert.equal(connection.is_open(), true);
  });
});

test('sending to the Event Hub-compatible entity is refused: it is read-only', async () => {
  await withHub(async (hub) => {
    const connection = hub.connect({ username: 'service', password: policyKeys.service });
    await next(connection, ['connection_open'], 'the connection to open');
    const sender = connection.open_sender({ target: 'emulator' });
    const { context } = await next(sender, ['sender_error', 'sender_close'], 'the refusal');
    assert.equal(context.sender.error.condition, 'amqp:not-allowed');
    const unknown = connection.open_receiver({ source: 'nothing/here' });
    const refused = await next(unknown, ['receiver_error', 'receiver_close'], 'the unknown address');
    assert.equal(refused.context.receiver.error.condition, 'amqp:not-found');
  });
});

test('many links on one connection: every partition read by three receivers at once', async () => {
  await withHub(async (hub) => {
    const connection = hub.connect({ username: 'service', password: policyKeys.service });
    await next(connection, ['connection_open'], 'the connection to open');
    const opened = [];
    for (let p = 0; p < 4; p += 1) {
      for (let r = 0; r < 3; r += 1) {
        const receiver = connection.open_receiver({ source: `emulator/ConsumerGroups/$Default/Partitions/${p}` });
        opened.push(next(receiver, ['receiver_open', 'receiver_error'], `receiver ${p}/${r}`).then(({ name }) => name));
      }
    }
    assert.deepEqual(await Promise.all(opened), Array(12).fill('receiver_open'));
  });
});

test('bytes that are not AMQP get a protocol header or a framing error, and the connection is closed', async () => {
  await withHub(async (hub) => {
    const exchange = (bytes) => within('the server to answer and close', new Promise((resolve, reject) => {
      const socket = net.connect(hub.amqpPlainPort, '127.0.0.1', () => socket.write(bytes));
      let received = Buffer.alloc(0);
      socket.on('data', (d) => { received = Buffer.concat([received, d]); });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    }), kWait);
    // Not AMQP at all: the server says which protocol it speaks and closes.
    const http = await exchange(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(http.subarray(0, 4).toString(), 'AMQP');
    // A valid header, then a frame claiming 4 GiB: a CLOSE with a framing error.
    const garbage = await exchange(Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0])]));
    assert.match(garbage.toString('latin1'), /amqp:connection:framing-error/);
  });
});
