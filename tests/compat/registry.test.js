// The official azure-iothub Registry, unmodified, against the emulator
// (issue: identity registry). Only the connection string and the CA differ from Azure.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Registry } = require('azure-iothub');
// The error classes azure-iothub itself throws (it bundles its own copy of azure-iot-common's).
const errors = require('azure-iothub/dist/common-core/errors');
const { startEmulator, hubConnectionString, freshDataDir } = require('./helpers/emulator');

const dataDir = freshDataDir('registry');
let hub;
let registry;
before(async () => {
  hub = await startEmulator({ dataDir });
  registry = Registry.fromConnectionString(hubConnectionString());
}, { timeout: 60000 });
after(async () => { if (hub) await hub.stop(); }, { timeout: 30000 });

const isBase64Key = (k) => typeof k === 'string' && Buffer.from(k, 'base64').length === 32;

test('create with service-generated keys, then get reads the same keys back', async () => {
  const created = await registry.create({ deviceId: 'gen-keys' });
  const device = created.responseBody;
  assert.equal(device.deviceId, 'gen-keys');
  assert.equal(device.status, 'enabled');
  assert.equal(device.connectionState, 'Disconnected');
  assert.equal(device.authentication.type, 'sas');
  assert.ok(isBase64Key(device.authentication.symmetricKey.primaryKey));
  assert.ok(isBase64Key(device.authentication.symmetricKey.secondaryKey));
  assert.ok(device.generationId && device.etag);

  const got = (await registry.get('gen-keys')).responseBody;
  assert.deepEqual(got.authentication.symmetricKey, device.authentication.symmetricKey);
  assert.equal(got.etag, device.etag);
});

test('create with given keys keeps them', async () => {
  const primaryKey = Buffer.alloc(32, 1).toString('base64');
  const secondaryKey = Buffer.alloc(32, 2).toString('base64');
  const device = (await registry.create({
    deviceId: 'given-keys', status: 'disabled',
    authentication: { symmetricKey: { primaryKey, secondaryKey } },
  })).responseBody;
  assert.equal(device.authentication.symmetricKey.primaryKey, primaryKey);
  assert.equal(device.authentication.symmetricKey.secondaryKey, secondaryKey);
  assert.equal(device.status, 'disabled');
});

test('creating an existing id fails with DeviceAlreadyExistsError', async () => {
  await registry.create({ deviceId: 'twice' });
  await assert.rejects(registry.create({ deviceId: 'twice' }), errors.DeviceAlreadyExistsError);
});

test('get and delete of an unknown device fail with DeviceNotFoundError', async () => {
  await assert.rejects(registry.get('nobody-here'), errors.DeviceNotFoundError);
  await assert.rejects(registry.delete('nobody-here'), errors.DeviceNotFoundError);
});

test('list returns the devices', async () => {
  await registry.create({ deviceId: 'listed' });
  const ids = (await registry.list()).responseBody.map((d) => d.deviceId);
  assert.ok(ids.includes('listed'));
  assert.ok(ids.includes('gen-keys'));
});

test('update changes status and etag and keeps the keys', async () => {
  const before = (await registry.create({ deviceId: 'updated' })).responseBody;
  const after = (await registry.update({ deviceId: 'updated', status: 'disabled', statusReason: 'test' })).responseBody;
  assert.equal(after.status, 'disabled');
  assert.equal(after.statusReason, 'test');
  assert.notEqual(after.etag, before.etag);
  assert.deepEqual(after.authentication.symmetricKey, before.authentication.symmetricKey);
});

test('delete removes the device', async () => {
  await registry.create({ deviceId: 'doomed' });
  await registry.delete('doomed');
  await assert.rejects(registry.get('doomed'), errors.DeviceNotFoundError);
});

test('bulk add, update and remove, with per-device errors', async () => {
  const added = (await registry.addDevices([{ deviceId: 'bulk1' }, { deviceId: 'bulk2' }])).responseBody;
  assert.equal(added.isSuccessful, true);
  assert.deepEqual(added.errors, []);

  const dup = (await registry.addDevices([{ deviceId: 'bulk1' }, { deviceId: 'bulk3' }])).responseBody;
  assert.equal(dup.isSuccessful, false);
  assert.equal(dup.errors.length, 1);
  assert.equal(dup.errors[0].deviceId, 'bulk1');
  assert.equal(dup.errors[0].errorCode, 'DeviceAlreadyExists');
  assert.equal((await registry.get('bulk3')).responseBody.deviceId, 'bulk3');

  const bulk1 = (await registry.get('bulk1')).responseBody;
  const stale = (await registry.updateDevices([{ ...bulk1, etag: 'c3RhbGU=', status: 'disabled' }], false)).responseBody;
  assert.equal(stale.errors[0].errorCode, 'PreconditionFailed');
  const forced = (await registry.updateDevices([{ deviceId: 'bulk1', status: 'disabled' }], true)).responseBody;
  assert.equal(forced.isSuccessful, true);
  assert.equal((await registry.get('bulk1')).responseBody.status, 'disabled');

  const removed = (await registry.removeDevices([{ deviceId: 'bulk1' }, { deviceId: 'bulk2' }], true)).responseBody;
  assert.equal(removed.isSuccessful, true);
  await assert.rejects(registry.get('bulk2'), errors.DeviceNotFoundError);
});

test('registry statistics count what exists', async () => {
  const stats = (await registry.getRegistryStatistics()).responseBody;
  const all = (await registry.list()).responseBody;
  assert.equal(stats.totalDeviceCount, all.length);
  assert.equal(stats.enabledDeviceCount + stats.disabledDeviceCount, all.length);
  assert.equal(stats.disabledDeviceCount, all.filter((d) => d.status === 'disabled').length);
});

test('a stale ETag fails with InvalidEtagError', async () => {
  // Registry's device methods always send If-Match "*"; its twin and module
  // methods send real etags through the same RestApiClient and error mapping.
  await registry.create({ deviceId: 'etagged' });
  const call = (headers) => new Promise((resolve, reject) => registry._restApiClient.executeApiCall(
    'PUT', '/devices/etagged?api-version=2021-04-12', { 'Content-Type': 'application/json; charset=utf-8', ...headers },
    { deviceId: 'etagged', status: 'disabled' }, (err, body) => (err ? reject(err) : resolve(body))));
  await assert.rejects(call({ 'If-Match': '"c3RhbGU="' }), errors.InvalidEtagError);
  const current = (await registry.get('etagged')).responseBody.etag;
  assert.equal((await call({ 'If-Match': `"${current}"` })).status, 'disabled');
});

test("a device id with '/' fails with ArgumentError, and no device is made", async () => {
  // The SDK sends the id encoded ("a%2Fb"); IoT Hub does not allow '/' in an id: 400 ArgumentInvalid.
  await assert.rejects(registry.create({ deviceId: 'a/b' }), (err) => {
    assert.ok(err instanceof errors.ArgumentError, `${err.name}: ${err.message}`);
    assert.match(err.message, /Device id 'a\/b' is invalid/);
    return true;
  });
  await assert.rejects(registry.get('a/b'), errors.ArgumentError);
  await assert.rejects(registry.getTwin('a/b'), errors.ArgumentError);
  await assert.rejects(registry.get('a'), errors.DeviceNotFoundError);
});

test('wrong credentials fail with UnauthorizedError', async () => {
  const forged = Registry.fromConnectionString(hubConnectionString('iothubowner', Buffer.alloc(32).toString('base64')));
  await assert.rejects(forged.get('gen-keys'), errors.UnauthorizedError);
  const readOnly = Registry.fromConnectionString(hubConnectionString('registryRead'));
  await assert.rejects(readOnly.create({ deviceId: 'not-allowed' }), errors.UnauthorizedError);
  const serviceOnly = Registry.fromConnectionString(hubConnectionString('service'));
  await assert.rejects(serviceOnly.list(), errors.UnauthorizedError);
});

test('an IoT Edge device gets its deviceScope; a leaf and a nested Edge device name it and read it back as parentScopes', async () => {
  const edge = (await registry.create({ deviceId: 'edge-gw', capabilities: { iotEdge: true } })).responseBody;
  assert.equal(edge.deviceScope, `ms-azure-iot-edge://edge-gw-${edge.generationId}`);
  assert.deepEqual(edge.parentScopes, []);

  const leaf = (await registry.create({ deviceId: 'edge-leaf', deviceScope: edge.deviceScope })).responseBody;
  assert.equal(leaf.deviceScope, edge.deviceScope);
  assert.deepEqual(leaf.parentScopes, [edge.deviceScope]);
  const nested = (await registry.create({
    deviceId: 'edge-nested', capabilities: { iotEdge: true }, parentScopes: [edge.deviceScope],
  })).responseBody;
  assert.equal(nested.deviceScope, `ms-azure-iot-edge://edge-nested-${nested.generationId}`);
  assert.deepEqual(nested.parentScopes, [edge.deviceScope]);

  assert.deepEqual((await registry.get('edge-leaf')).responseBody.parentScopes, [edge.deviceScope]);
  const listed = (await registry.list()).responseBody.find((d) => d.deviceId === 'edge-nested');
  assert.deepEqual(listed.parentScopes, [edge.deviceScope]);
  const twin = (await registry.getTwin('edge-nested')).responseBody;
  assert.equal(twin.deviceScope, nested.deviceScope);
  assert.deepEqual(twin.parentScopes, [edge.deviceScope]);

  // As the SDK's own end-to-end test expects of IoT Hub: a scope that names no Edge device is refused.
  const moved = { ...leaf, deviceScope: require('node:crypto').randomUUID() };
  await assert.rejects(registry.update(moved), errors.ArgumentError);
  await assert.rejects(registry.create({ deviceId: 'edge-orphan', deviceScope: 'ms-azure-iot-edge://nobody-638000000000000000' }),
    errors.ArgumentError);
  await assert.rejects(registry.get('edge-orphan'), errors.DeviceNotFoundError);
  assert.equal((await registry.get('edge-leaf')).responseBody.deviceScope, edge.deviceScope);

  // The leaf's JSON sent back as read updates; an empty deviceScope takes it out of the parent.
  const unchanged = (await registry.update({ ...leaf, status: 'disabled' })).responseBody;
  assert.deepEqual(unchanged.parentScopes, [edge.deviceScope]);
  const freed = (await registry.update({ ...leaf, deviceScope: '' })).responseBody;
  assert.deepEqual(freed.parentScopes, []);
});

test('the registry survives a restart', async () => {
  const before = (await registry.get('gen-keys')).responseBody;
  await hub.stop();
  hub = await startEmulator({ dataDir });
  const after = (await Registry.fromConnectionString(hubConnectionString()).get('gen-keys')).responseBody;
  assert.deepEqual(after, before);
});
