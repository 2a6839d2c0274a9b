// Starts the real iothub-emulator for the official-SDK tests, on port 443:
// the service SDK (Registry) always connects to 443 (spec §0 #3).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const bin = process.env.IOTHUB_EMULATOR_BIN;
const testData = process.env.TEST_DATA_DIR;
if (!bin || !testData || !process.env.NODE_EXTRA_CA_CERTS) {
  throw new Error('Run through ctest (make test): it sets IOTHUB_EMULATOR_BIN, TEST_DATA_DIR and NODE_EXTRA_CA_CERTS');
}

// The documented development keys (README, "Development credentials").
const policyKeys = {
  iothubowner: '7r3KxkLA5oZr/fN2IcckoG1ybGiApgGjvQKk5btv0Zc=',
  service: 'kif8csu1RvNjpgNgk7Wx+OVv6S1Jw2wQ2/7O8s3lxUo=',
  device: 'kMV6vdJRIMnwaA8ZeMlGmjphOCm7oHAMyKDqWtmmJn0=',
  registryRead: 'P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=',
  registryReadWrite: '9l2AAH9GSx29Ecpw5xA34nb928rIY4gAtS7g5lHH6qg=',
};

function hubConnectionString(policy = 'iothubowner', key = policyKeys[policy]) {
  return `HostName=localhost;SharedAccessKeyName=${policy};SharedAccessKey=${key}`;
}

function freshDataDir(name) {
  const dir = path.join(testData, 'compat', `${name}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function healthy() {
  return new Promise((resolve) => {
    const req = https.get({ host: 'localhost', port: 443, path: '/health', timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

// Whether something on 127.0.0.1 accepts a TCP connection on port.
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 500 });
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => { socket.destroy(); resolve(false); });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts the emulator on 443 with the test certificates; resolves once /health
// answers and the AMQP listeners accept connections. MQTT is on the real 8883
// unless a port is given (the device SDK honours a port in HostName, and 0 picks
// a free one). AMQP (the Event Hub-compatible endpoint) always gets free ports so
// that no test clashes with a real 5671/5672: amqpPort is AMQP over TLS,
// amqpPlainPort plain AMQP (UseDevelopmentEmulator=true; 0 turns it off).
async function startEmulator({ dataDir, mqttPort = 8883, amqpPort, amqpPlainPort, extraArgs = [] } = {}) {
  const taken = new Set([443, mqttPort, amqpPort, amqpPlainPort]);
  const distinctFreePort = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) { taken.add(port); return port; }
    }
  };
  if (mqttPort === 0) mqttPort = await distinctFreePort();
  if (amqpPort === undefined || amqpPort === 0) amqpPort = await distinctFreePort();
  if (amqpPlainPort === undefined) amqpPlainPort = await distinctFreePort();
  const args = ['--https-port', '443', '--https-bind', '127.0.0.1', '--mqtt-port', String(mqttPort),
    '--mqtt-bind', '127.0.0.1',
    '--amqp-port', String(amqpPort), '--amqp-plain-port', String(amqpPlainPort), '--amqp-bind', '127.0.0.1',
    '--tls-cert', path.join(testData, 'certs', 'server.pem'),
    '--tls-key', path.join(testData, 'certs', 'server.key'), ...extraArgs];
  args.push(...(dataDir ? ['--data-dir', dataDir] : ['--in-memory']));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`the emulator exited (${child.exitCode}) while starting:\n${log}`);
    }
    if (await healthy() && await accepts(amqpPort) && (amqpPlainPort === 0 || await accepts(amqpPlainPort))) {
      return {
        mqttPort,
        amqpPort,
        amqpPlainPort,
        log: () => log,
        // SIGTERM, and SIGKILL if it has not exited 10 s later; resolves to the exit code (null if killed).
        async stop() {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
          return exited.finally(() => clearTimeout(timer));
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the emulator did not become healthy (or its AMQP ports ${amqpPort}, ${amqpPlainPort} did not accept connections):\n${log}`);
}

// The Event Hub-compatible connection string of a started emulator (hub name `emulator`, the default --hub-name):
// 'tls' (AMQP over TLS on hub.amqpPort), 'plain' (UseDevelopmentEmulator=true: plain AMQP on hub.amqpPlainPort) or
// 'ws' (no port: with a webSocket constructor the SDK goes to wss://localhost:443/$servicebus/websocket).
function eventHubConnectionString(hub, { transport = 'tls', policy = 'service', key = policyKeys[policy] } = {}) {
  const endpoint = { tls: `sb://localhost:${hub.amqpPort}/`, plain: `sb://localhost:${hub.amqpPlainPort}/`,
    ws: 'sb://localhost/' }[transport];
  if (!endpoint) throw new Error(`unknown transport ${transport}`);
  return `Endpoint=${endpoint};SharedAccessKeyName=${policy};SharedAccessKey=${key};EntityPath=emulator`
    + (transport === 'plain' ? ';UseDevelopmentEmulator=true' : '');
}

// Requests give up after this long: a hub that stops answering fails the test instead of hanging it.
const kRequestTimeoutMs = 10000;

// GET on the emulator's REST API with the owner's token; resolves to the parsed JSON body.
function getJson(path) {
  const { SharedAccessSignature } = require('azure-iothub');
  const token = SharedAccessSignature.create('localhost', 'iothubowner', policyKeys.iothubowner,
    Math.ceil(Date.now() / 1000) + 3600).toString();
  return new Promise((resolve, reject) => {
    const req = https.get({ host: 'localhost', port: 443, path, headers: { Authorization: token },
      timeout: kRequestTimeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body))
        : reject(new Error(`${path}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${kRequestTimeoutMs} ms`)));
  });
}

// A request to the emulator's REST API with the owner's token and, unless undefined, a JSON body; resolves to
// [status, parsed body] (the body undefined when there is none).
function requestJson(method, path, body) {
  const { SharedAccessSignature } = require('azure-iothub');
  const token = SharedAccessSignature.create('localhost', 'iothubowner', policyKeys.iothubowner,
    Math.ceil(Date.now() / 1000) + 3600).toString();
  return new Promise((resolve, reject) => {
    const req = https.request({ host: 'localhost', port: 443, path, method, timeout: kRequestTimeoutMs,
      headers: { Authorization: token, 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve([res.statusCode, text ? JSON.parse(text) : undefined]));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${kRequestTimeoutMs} ms`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// POST, PUT and DELETE on the emulator's REST API with the owner's token; each resolves to [status, parsed body].
const postJson = (path, body) => requestJson('POST', path, body);
const putJson = (path, body) => requestJson('PUT', path, body);
const deleteJson = (path) => requestJson('DELETE', path);

module.exports = { startEmulator, hubConnectionString, eventHubConnectionString, freshDataDir, freePort, policyKeys,
  getJson, postJson, putJson, deleteJson, tmpdir: os.tmpdir };
