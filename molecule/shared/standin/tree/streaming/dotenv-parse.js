// The `.env.production` parser of the streaming server: upstream's streaming/index.js
// (l.33-36 at 1440d55b) calls npm's `dotenv` ^17 (streaming/package.json l.21; yarn.lock
// l.6950 resolves 17.4.2). The stand-in installs no npm packages (its yarn install runs
// offline), so this file follows dotenv 17.4.2's `parse` (lib/main.js l.38-77) line for
// line instead of loading the package: unquoted values end at `#` and are trimmed;
// single quotes, double quotes and backticks around a value are removed; only inside
// double quotes `\n` and `\r` become line breaks; nothing is expanded or unescaped.
// tests/unit/test_standin_streaming_dotenv.py checks it against the real package.
'use strict';

const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg;

function parse(src) {
  const obj = {};
  const lines = src.toString().replace(/\r\n?/mg, '\n');
  let match;
  LINE.lastIndex = 0;
  while ((match = LINE.exec(lines)) != null) {
    const key = match[1];
    let value = (match[2] || '').trim();
    const maybeQuote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2');
    if (maybeQuote === '"') {
      value = value.replace(/\\n/g, '\n');
      value = value.replace(/\\r/g, '\r');
    }
    obj[key] = value;
  }
  return obj;
}

module.exports = { parse };
