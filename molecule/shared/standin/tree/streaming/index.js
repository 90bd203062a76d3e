// Mastodon stand-in streaming server (`node ./streaming`), test only.
//
// Keeps upstream's contract: NODE_ENV=production reads ../.env.production (any other
// NODE_ENV reads ../.env), the process environment wins over the file; PORT (4000) and
// BIND (127.0.0.1) choose the socket; GET /api/v1/streaming/health answers "OK"; the
// WebSocket endpoint /api/v1/streaming completes the upgrade handshake and sends nothing.
// It refuses to start without database settings, like upstream, whose first act is to
// connect to PostgreSQL and Redis.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

// npm's dotenv, the package upstream's streaming/index.js (l.33-36 at 1440d55b) loads
// (yarn.lock l.6950: 17.4.2). The stand-in's yarn install is offline, so build-repo.sh
// unpacks the package here (molecule/shared/standin/npm-packages.txt).
const dotenv = require('./vendor/dotenv');
const dotenvVersion = require('./vendor/dotenv/package.json').version;

const root = path.resolve(__dirname, '..');

function loadEnvironment() {
  // As upstream: the file's values join process.env, where the process's own win.
  const production = process.env.NODE_ENV === 'production';
  dotenv.config({ path: path.join(root, production ? '.env.production' : '.env'), quiet: true });
  return process.env;
}

function releaseVersion() {
  const text = fs.readFileSync(path.join(root, 'lib', 'mastodon', 'version.rb'), 'utf8');
  return ['major', 'minor', 'patch'].map((name) => {
    const match = text.match(new RegExp(`def ${name}\\s+(\\d+)`));
    return match ? Number(match[1]) : 0;
  });
}

function contractProblems(env, version) {
  const problems = [];
  const present = (key) => typeof env[key] === 'string' && env[key].trim() !== '';
  if (!present('DATABASE_URL')) {
    for (const key of ['DB_HOST', 'DB_NAME', 'DB_USER']) {
      if (!present(key)) problems.push(`${key} is not set`);
    }
    if (present('DB_HOST') && !env.DB_HOST.startsWith('/') && !present('DB_PASS')) {
      problems.push(`DB_PASS is not set but DB_HOST=${env.DB_HOST} connects over TCP`);
    }
  }
  if ((version[0] > 4 || (version[0] === 4 && version[1] >= 6)) && present('REDIS_NAMESPACE')) {
    problems.push('REDIS_NAMESPACE is no longer supported since Mastodon 4.6');
  }
  return problems;
}

function acceptWebSocket(req, socket) {
  const key = req.headers['sec-websocket-key'];
  const url = new URL(req.url, 'http://localhost');
  if (!url.pathname.startsWith('/api/v1/streaming') || !key) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
    `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.on('data', (chunk) => {
    // A close frame (opcode 8) from the client: answer with a close frame and hang up.
    if (chunk.length > 0 && (chunk[0] & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0x00]));
  });
  socket.on('error', () => socket.destroy());
}

function main() {
  const env = loadEnvironment();
  const version = releaseVersion();
  const problems = contractProblems(env, version);
  if (problems.length > 0) {
    console.error(`streaming (stand-in): refusing to start: ${problems.join('; ')}`);
    process.exit(1);
  }
  const port = Number(env.PORT || 4000);
  const bind = env.BIND || '127.0.0.1';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/api/v1/streaming/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: 'Not found' }));
  });
  server.on('upgrade', acceptWebSocket);
  server.listen(port, bind, () => {
    console.log(`Streaming API stand-in (Mastodon ${version.join('.')}, ` +
      `dotenv ${dotenvVersion}) now listening on ` +
      `${bind}:${port} pid=${process.pid} NODE_ENV=${process.env.NODE_ENV || ''}`);
  });
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
