// The SAS vectors the C++ unit tests check against must still be what the
// pinned official SDK produces.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

test('tests/unit/core/sas_vectors_from_node_sdk.inc matches the pinned SDK', () => {
  const fresh = execFileSync(process.execPath, [path.join(__dirname, 'tools', 'make_sas_vectors.js')], { encoding: 'utf8', timeout: 30000 });
  const committed = fs.readFileSync(path.join(__dirname, '..', 'unit', 'core', 'sas_vectors_from_node_sdk.inc'), 'utf8');
  assert.equal(committed, fresh);
});
