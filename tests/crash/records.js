'use strict';
// The self-checking record format shared with tests/crash/records.py
// (see there): value = body + '#' + digest, or a tombstone with header ck.

const crypto = require('node:crypto');

function digest(key, headers, body) {
  let s = 'k=' + (key == null ? '-' : '+' + key) + '\nh=';
  for (const [n, v] of headers) s += `${n}=${v};`;
  s += '\nb=' + (body == null ? '-' : '+' + body);
  return crypto.createHash('sha256').update(s).digest('hex').slice(0, 32);
}

function filler(seq, n) {
  const s = seq.toString(16) + '-';
  return s.repeat(Math.floor(n / s.length) + 1).slice(0, n);
}

/** { key, value, headers, ck } of a new record. */
function make(tag, seq, size, key = null, headers = [], tomb = false) {
  const body = tomb ? null : `${tag}.${seq}.` + filler(seq, size);
  const ck = digest(key, headers, body);
  const hs = headers.slice();
  if (tomb) {
    hs.push(['ck', ck]);
    return { key, value: null, headers: hs, ck };
  }
  return { key, value: `${body}#${ck}`, headers: hs, ck };
}

class Corrupt extends Error {}

const strict = new TextDecoder('utf-8', { fatal: true });
function text(b) {
  try {
    return strict.decode(b);
  } catch (e) {
    throw new Corrupt('not utf-8');
  }
}

/** The record's digest; throws Corrupt when it does not match its content. */
function check(r) {
  const k = r.key == null ? null : text(r.key);
  const hs = r.headers.map(([n, v]) => [n, text(v)]);
  const own = hs.filter(([n]) => n !== 'ck' && !n.startsWith('logpond.'));
  if (r.value == null) {
    const cks = hs.filter(([n]) => n === 'ck').map(([, v]) => v);
    if (cks.length !== 1) throw new Corrupt('tombstone without its ck header');
    if (digest(k, own, null) !== cks[0]) throw new Corrupt('tombstone digest mismatch');
    return cks[0];
  }
  const v = text(r.value);
  const i = v.lastIndexOf('#');
  const ck = i < 0 ? '' : v.slice(i + 1);
  if (i < 0 || ck.length !== 32) throw new Corrupt(`value without a digest: ${JSON.stringify(v.slice(0, 60))}`);
  if (digest(k, own, v.slice(0, i)) !== ck) throw new Corrupt(`digest mismatch: ${JSON.stringify(v.slice(0, 60))}`);
  return ck;
}

module.exports = { digest, filler, make, check, Corrupt };
